//===- AttnTypes.td - attn dialect types ------------------*- tablegen -*-===//

#ifndef ATTN_DIALECT_ATTN_ATTNTYPES_TD
#define ATTN_DIALECT_ATTN_ATTNTYPES_TD

include "attn/Dialect/Attn/AttnDialect.td"
include "mlir/IR/AttrTypeBase.td"

def Attn_MaskType : TypeDef<Attn_Dialect, "Mask"> {
  let mnemonic = "mask";
  let summary = "An attention mask description";
  let description = [{
    A value of type `!attn.mask` describes which (query, key) pairs an
    attention op may combine. It is produced by the `attn.mask.*` ops and
    consumed by `attn.attention`. It holds no data of its own: buffers it
    refers to (bucket ids, keep flags, block masks) are read by the attention
    op that uses the mask.

    ```mlir
    %m = attn.mask.causal
    ```
  }];
}

#endif // ATTN_DIALECT_ATTN_ATTNTYPES_TD
