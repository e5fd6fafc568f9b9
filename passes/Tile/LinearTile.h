//===- LinearTile.h - attn.linear_attention to its L2 form ------*- C++ -*-===//
//
// Part of attn-tile: the two-phase scheme of linear attention (see
// LinearTile.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_TILE_LINEARTILE_H
#define ATTN_PASSES_TILE_LINEARTILE_H

#include "attn/Dialect/Attn/AttnOps.h"

namespace attn {

/// Rewrites `op` into its L2 form with chunks of `block` tokens and
/// segments of `segment` tokens; diagnoses bad options at `op`.
/// Writes `op` as the two-phase scheme (LinearTile.cpp) with chunks of
/// `block` tokens and segments of `segment` tokens, or, with segment = 0,
/// of the run-time length that gives about `units` (batch, head, segment)
/// units.
mlir::LogicalResult tileLinearAttention(LinearAttentionOp op, int64_t block,
                                        int64_t segment, int64_t units);

} // namespace attn

#endif // ATTN_PASSES_TILE_LINEARTILE_H
