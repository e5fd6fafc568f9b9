//===- AttnInterfaces.td - attn dialect interfaces ---------*- tablegen -*-===//
//
// Interfaces of the attn dialect. MaskOpInterface is what every attn.mask.*
// op implements, so that the verifier, the side-effect walk, the planner and
// dead-mask cleanup handle a mask family through its op alone instead of
// listing the families by hand.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNINTERFACES_TD
#define ATTN_DIALECT_ATTN_ATTNINTERFACES_TD

include "mlir/IR/OpBase.td"

def Attn_MaskOpInterface : OpInterface<"MaskOpInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    An op producing an `!attn.mask` value: a side-effect-free description of
    which (query, key) pairs an attention may combine. A mask may be built
    from other masks (its *child masks*); every child allows at least the
    pairs its parent allows, so a consumer may fold the children's facts into
    the parent's by conjunction (`attn.mask.and` is exactly that conjunction;
    `attn.mask.nm` prunes inside its base).

    The mask tree of an attention (in general a DAG: one mask value may be
    used several times) is visited through `attn::walkMaskTree`, which sees
    each mask op once; the verifier, `attn.attention`'s memory effects, the
    planner and dead-mask cleanup all fold over this interface. Adding a mask
    family means adding its op (with these methods) and its analysis.
  }];

  let methods = [
    InterfaceMethod<[{
        Checks the op's own operands against the extents of the attention
        problem that uses the mask (e.g. a per-query buffer must be
        `[B, Hq, Nq]`). Reports a mismatch through `emitError`, which returns
        a diagnostic located at the attention op with a note at this mask.
        Child masks are checked by the caller's walk, not here.
      }],
      "::mlir::LogicalResult", "verifyAgainstProblem",
      (ins "const ::attn::ProblemExtents &":$problem,
           "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError),
      /*methodBody=*/"",
      /*defaultImplementation=*/[{ return ::mlir::success(); }]>,
    InterfaceMethod<[{
        Adds what this mask alone says about the allowed pairs to `plan`
        (attn-plan's analysis): a band on `delta = j - (i + Nk - Nq)`
        (`MaskPlan::intersectBand`), a predicate, or nothing when the mask
        only combines its children (the walk folds those separately). A mask
        the planner cannot analyse yet fails with a message streamed into
        `emitError`, which is located at the attention op, carries a note at
        this mask and already names the pass.
      }],
      "::mlir::LogicalResult", "contributeToPlan",
      (ins "::attn::MaskPlan &":$plan,
           "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError)>,
    InterfaceMethod<[{
        Returns the masks this mask is built from, in operand order. By
        default, every operand of type `!attn.mask`.
      }],
      "::llvm::SmallVector<::mlir::Value>", "getChildMasks", (ins),
      /*methodBody=*/"",
      /*defaultImplementation=*/[{
        ::llvm::SmallVector<::mlir::Value> children;
        for (::mlir::Value operand : $_op->getOperands())
          if (::llvm::isa<::attn::MaskType>(operand.getType()))
            children.push_back(operand);
        return children;
      }]>,
    InterfaceMethod<[{
        Returns the buffers the attention op using this mask reads on the
        mask's behalf (the mask itself is a description and reads nothing).
        By default, every memref operand.
      }],
      "::llvm::SmallVector<::mlir::Value>", "getReadBuffers", (ins),
      /*methodBody=*/"",
      /*defaultImplementation=*/[{
        ::llvm::SmallVector<::mlir::Value> buffers;
        for (::mlir::Value operand : $_op->getOperands())
          if (::llvm::isa<::mlir::MemRefType>(operand.getType()))
            buffers.push_back(operand);
        return buffers;
      }]>,
  ];
}

#endif // ATTN_DIALECT_ATTN_ATTNINTERFACES_TD
