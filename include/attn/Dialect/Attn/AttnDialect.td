//===- AttnDialect.td - attn dialect definition -----------*- tablegen -*-===//
//
// The attn dialect: structured-sparse attention with the mask structure as
// first-class IR.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNDIALECT_TD
#define ATTN_DIALECT_ATTN_ATTNDIALECT_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::attn";
  let summary = "Structured-sparse attention with first-class mask structure";
  let description = [{
    The `attn` dialect represents attention (softmax, linear and conv-basis)
    together with the structure of its mask: causal, sliding window, hash
    buckets, dropped keys/queries, N:M pruning, block masks (including the
    SPION flood-fill derivation) and user predicates. Mask values of type
    `!attn.mask` are side-effect-free descriptions composed with
    `attn.mask.and`; the attention ops consume one and read the buffers it
    refers to when they execute.

    All compute ops use memref destination-passing style: inputs under `ins`,
    results written into caller-provided buffers under `outs`. That is the
    kernel ABI the lowering produces (see docs/Dialect.md for the reasoning).

    Semantics are defined exactly in SEMANTICS.md; `lib/Reference` is the
    executable form of that definition.
  }];
  let useDefaultTypePrinterParser = 1;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT_ATTN_ATTNDIALECT_TD
