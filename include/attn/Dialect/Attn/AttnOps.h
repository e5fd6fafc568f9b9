//===- AttnOps.h - attn dialect operations ----------------------*- C++ -*-===//

#ifndef ATTN_DIALECT_ATTN_ATTNOPS_H
#define ATTN_DIALECT_ATTN_ATTNOPS_H

#include "attn/Dialect/Attn/AttnDialect.h"
#include "attn/Dialect/Attn/AttnInterfaces.h"
#include "attn/Dialect/Attn/TileMask.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "attn/Dialect/Attn/AttnOps.h.inc"

namespace attn {

/// Head dimensions every target supports (multiples of the mma k = 16).
bool isSupportedHeadDim(int64_t headDim);

/// Verifies a predicate region (attn.mask.custom, attn.plan,
/// attn.fused.forward, attn.tile.mask): empty, or one block with four
/// `index` arguments (batch, query head, query index, key index) -- or two
/// (query index, key index) where `allowIndexPair` (attn.mask.custom) --
/// ending in attn.yield, whose body passes verifyPredicateBody.
mlir::LogicalResult verifyPredicateRegion(mlir::Operation *op,
                                          mlir::Region &predicate,
                                          bool allowIndexPair);

/// The discardable attribute that marks a function-level memref.alloc as
/// scratch memory of an attention (its value names the buffer, e.g.
/// "tile_counts"): the GPU lowering turns it into a buffer the runtime
/// allocates; the CPU lowering keeps the allocation.
inline constexpr llvm::StringLiteral kScratchAttrName = "attn.scratch";

/// The largest block size (attn.mask.block, attn.flood_fill) and filter
/// size (attn.flood_fill): 2^30, far past any sequence a block divides,
/// and small enough that origin + size + half width stays exact.
inline constexpr int64_t kMaxPatternExtent = int64_t{1} << 30;

/// The largest number of classes of a token order (attn.plan's
/// `classes`, attn.token_order, attn.ordered_tile_lists): bucket counts
/// past this are not planned. The GPU's counting sort takes fewer
/// (passes/AttnToGPU/TokenOrder.cpp says how many).
inline constexpr int64_t kMaxOrderClasses = int64_t{1} << 16;

/// The original row of sorted position `sortedRow` of a token order
/// ([B, H, N] i32, attn.token_order): `order[batch, head, min(sortedRow,
/// N - 1)]` as an index (a position past the end reads the last entry, so
/// that rows a tile pads with stay in bounds).
mlir::Value buildOriginalRow(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value order, mlir::Value batch,
                             mlir::Value head, mlir::Value sortedRow);

/// The i32 class of per-token key `key` (an integer of any width) in a token
/// order of `classes` classes: with bucket ids (`keepFlags` false) the id
/// when it lies in [0, classes) and `classes` otherwise; with keep flags
/// (`classes` = 1) 0 for a non-zero (kept) flag and 1 for a dropped token.
/// A pair is allowed by the order iff both classes are equal and below
/// `classes`.
mlir::Value buildTokenClass(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value key, int64_t classes, bool keepFlags);

/// Writes the summary of kv-tile `keyTile` of (batch, kvHead) into `op`'s
/// summaries (attn.ordered_tile_lists, first phase), reading the operands
/// through `mapping`. Shared by the CPU loops and the GPU kernel.
void buildKeyTileSummary(mlir::OpBuilder &b, mlir::Location loc,
                         OrderedTileListsOp op, mlir::Value batch,
                         mlir::Value kvHead, mlir::Value keyTile,
                         const mlir::IRMapping &mapping = {});

/// Writes the list and counts of q-tile `queryTile` of (batch, head)
/// (attn.ordered_tile_lists, second phase; the summaries must be
/// written): the q-tile's summary, the binary search for the first
/// kv-tile, a walk appending the full tiles and one appending the
/// partial ones. Shared by the CPU loops and the GPU kernel.
void buildQueryTileLists(mlir::OpBuilder &b, mlir::Location loc,
                         OrderedTileListsOp op, mlir::Value batch,
                         mlir::Value head, mlir::Value queryTile,
                         const mlir::IRMapping &mapping = {});

/// Verifies a block size `name` (attn.mask.block, attn.plan's block mask,
/// attn.flood_fill): a power of two of at most kMaxPatternExtent.
mlir::LogicalResult
verifyBlockSize(llvm::function_ref<mlir::InFlightDiagnostic()> emitError,
                llvm::StringRef name, int64_t size);

/// Verifies a band [lower, upper] (missing bounds are unbounded): each
/// bound within +-kBandLimit, lower <= upper.
mlir::LogicalResult verifyBand(mlir::Operation *op,
                               std::optional<int64_t> lower,
                               std::optional<int64_t> upper);

/// Verifies the band and schedule of attn.plan and attn.fused.forward:
/// verifyBand, `dense` without a band, `range` with one
/// (`list` takes a band or none).
mlir::LogicalResult verifyBandSchedule(mlir::Operation *op,
                                       ScheduleKind schedule,
                                       std::optional<int64_t> lower,
                                       std::optional<int64_t> upper);

/// Verifies a rescale_threshold (attn.fused.forward,
/// attn.tile.online_softmax): finite and non-negative.
mlir::LogicalResult verifyRescaleThreshold(mlir::Operation *op,
                                           mlir::FloatAttr threshold);

/// Verifies an N:M prune `keep` of `group` (attn.mask.nm, and the nm(...)
/// of attn.plan, attn.fused.forward and attn.tile.prune): group in
/// {2, 4, 8}, 1 <= keep < group.
mlir::LogicalResult
verifyPrunePattern(llvm::function_ref<mlir::InFlightDiagnostic()> emitError,
                   int64_t keep, int64_t group);

/// Verifies the optional nm(keep of group) pair of attn.plan and
/// attn.fused.forward: both or neither, and verifyPrunePattern.
mlir::LogicalResult verifyOptionalPrune(mlir::Operation *op,
                                        std::optional<int64_t> keep,
                                        std::optional<int64_t> group);

/// Verifies what a predicate region may contain: ops that read memory are
/// allowed, ops that declare a write, allocation or free are not, and nor
/// are attn ops other than masks and attn.yield (an attention or tile op
/// cannot run per (query, key) pair). Ops whose effects are unknown (e.g.
/// calls) are accepted. Errors are emitted on `op` with a note at the
/// offending nested op.
mlir::LogicalResult verifyPredicateBody(mlir::Operation *op,
                                        mlir::Region &predicate);

/// Calls `fn` once on every distinct mask op in the tree (DAG) rooted at
/// `mask`, parents before children. Stops at values not produced by an
/// attn.mask.* op. A thin wrapper over attn::visitMaskTree (MaskAnalysis.h).
void walkMaskTree(mlir::Value mask,
                  llvm::function_ref<void(mlir::Operation *)> fn);

} // namespace attn

#endif // ATTN_DIALECT_ATTN_ATTNOPS_H
