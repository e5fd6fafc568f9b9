//===- AttnAttrs.td - attn dialect attributes -------------*- tablegen -*-===//

#ifndef ATTN_DIALECT_ATTN_ATTNATTRS_TD
#define ATTN_DIALECT_ATTN_ATTNATTRS_TD

include "mlir/IR/EnumAttr.td"

def Attn_SpionVariantAttr : I32EnumAttr<"SpionVariant",
    "SPION block-pattern derivation variant", [
      // Diagonal convolution, block pooling, quantile threshold, flood fill.
      I32EnumAttrCase<"ConvFloodFill", 0, "conv_flood_fill">,
      // Diagonal convolution, block pooling, then the top-k blocks.
      I32EnumAttrCase<"ConvTopK", 1, "conv_topk">,
      // Flood fill on the pooled score map without the convolution.
      I32EnumAttrCase<"FloodFill", 2, "flood_fill">
    ]> {
  let cppNamespace = "::attn";
}

#endif // ATTN_DIALECT_ATTN_ATTNATTRS_TD
