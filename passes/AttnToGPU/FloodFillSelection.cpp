//===- FloodFillSelection.cpp - SPION's threshold, walks, top-k -*- C++ -*-===//
//
// The last kernel of attn.flood_fill's GPU lowering (FloodFill.h): one
// block of threads that selects order statistics of the block map and
// then walks (SPION-CF, F) or keeps the top cells (SPION-C).
//
//===----------------------------------------------------------------------===//

#include "FloodFill.h"
#include "KernelBuilder.h"
#include "SharedMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace attn;

/// Threads of the selection kernel.
static constexpr int64_t kSelectThreads = 1024;
/// Bits per radix-select pass (4 passes over 32-bit keys).
static constexpr int64_t kDigitBits = 8;
/// f32 values of the selection kernel's shared stripe of the block map.
static constexpr int64_t kStripeValues = 32768;
/// Cells (or stripe values) per thread whose loads the selection kernel
/// issues together.
static constexpr int64_t kBatch = 4;

namespace {
/// The selection kernel's body: order statistics of the block map by radix
/// select, then the walks (CF, F) or the top-k scan (C).
class SelectionKernel {
public:
  SelectionKernel(ImplicitLocOpBuilder &b, FloodFillOp op, Value blocks,
                  Value blockMap, Value thread, Value histogram, Value state,
                  Value warpCounts)
      : b(b), op(op), kernel(b, thread, index(kSelectThreads)), blocks(blocks),
        cells(arith::MulIOp::create(b, blocks, blocks)), blockMap(blockMap),
        thread(thread), histogram(histogram), state(state),
        warpCounts(warpCounts) {}

  /// The k-th smallest (0-based) key of the map (see keyOf), with the
  /// rank of k among the keys equal to it and their number.
  struct Selected {
    Value key;            ///< i32.
    Value rankAmongEqual; ///< i32: k - #{keys < key}.
    Value equal;          ///< i32: #{keys == key}.
  };
  /// Radix select: one 8-bit digit per pass from the top; a pass counts
  /// the digits of the keys that match the prefix found so far into a
  /// shared histogram (lanes with the same digit aggregated by match.sync:
  /// one atomic per distinct digit per warp), then warp 0 finds the bin
  /// holding rank k (each lane scans 8 bins, a shuffle scan across lanes).
  Selected select(Value k);

  /// The f32 value of a key.
  Value valueOf(Value key) {
    Value negative = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq,
        arith::AndIOp::create(b, key, i32Constant(INT32_MIN)), i32Constant(0));
    Value bits = arith::SelectOp::create(
        b, negative, arith::XOrIOp::create(b, key, i32Constant(-1)),
        arith::XOrIOp::create(b, key, i32Constant(INT32_MIN)));
    return arith::BitcastOp::create(b, b.getF32Type(), bits);
  }

  /// A map value as an unsigned key in value order: f32 bits with -0 as
  /// +0, negatives all flipped, others with the sign bit set.
  Value keyOf(Value value) {
    Value bits = arith::BitcastOp::create(b, i32(), value);
    bits = arith::SelectOp::create(
        b,
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, bits,
                              i32Constant(INT32_MIN)),
        i32Constant(0), bits);
    Value flip = arith::OrIOp::create(
        b, arith::ShRSIOp::create(b, bits, i32Constant(31)),
        i32Constant(INT32_MIN));
    return arith::XOrIOp::create(b, bits, flip);
  }

  /// SPION-CF / F: the quantile threshold, the walks and the diagonal.
  void emitFloodFill(Value stripe);
  /// SPION-C: the cells of rank < keep by value (ties: lower row-major
  /// index) and the diagonal.
  void emitTopK();

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  Value i32Constant(int64_t value) {
    return arith::ConstantIntOp::create(b, i32(), value);
  }
  Type i32() { return b.getI32Type(); }
  Value isThread0() {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, thread, index(0));
  }
  /// Runs `body` on batches of kBatch indices per thread, index base + u ·
  /// threads + thread for u < kBatch, base stepping by kBatch · threads
  /// up to `count` (indices may pass it: the body checks). The trip count
  /// is the same for every thread (warp-wide ops inside), and a body that
  /// issues its kBatch loads first has them in flight together.
  void forEachBatch(Value count, function_ref<void(ArrayRef<Value>)> body) {
    auto loop =
        scf::ForOp::create(b, index(0), count, index(kBatch * kSelectThreads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value, kBatch> indices;
    for (int64_t u = 0; u < kBatch; ++u)
      indices.push_back(arith::AddIOp::create(
          b, loop.getInductionVar(),
          arith::AddIOp::create(b, thread, index(u * kSelectThreads))));
    body(indices);
  }
  /// keyOf the map value of each cell of `cellBatch` (clamped into the
  /// map), the loads issued first.
  SmallVector<Value, 8> keysAt(ArrayRef<Value> cellBatch) {
    Value last = arith::SubIOp::create(b, cells, index(1));
    SmallVector<Value, 8> values;
    for (Value cell : cellBatch)
      values.push_back(memref::LoadOp::create(
          b, blockMap, arith::MinUIOp::create(b, cell, last).getResult()));
    SmallVector<Value, 8> keys;
    for (Value value : values)
      keys.push_back(keyOf(value));
    return keys;
  }
  Value inMap(Value cell) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, cell, cells);
  }
  void storeMask(Value x, Value y, int64_t value) {
    Type element =
        cast<MemRefType>(op.getBlockMask().getType()).getElementType();
    memref::StoreOp::create(
        b, arith::ConstantOp::create(b, b.getIntegerAttr(element, value)),
        op.getBlockMask(), ValueRange{x, y});
  }
  /// Walks `count` walks per round of threads, walk w from (0, w) for w <
  /// nb and from (w - nb, 0) after, over the map read through `stripe`.
  void emitWalks(Value threshold, Value stripe);

  ImplicitLocOpBuilder &b;
  FloodFillOp op;
  KernelBuilder kernel;
  Value blocks, cells, blockMap, thread, histogram, state, warpCounts;
};
} // namespace

SelectionKernel::Selected SelectionKernel::select(Value k) {
  Value prefix = i32Constant(0);
  Value remaining = arith::IndexCastOp::create(b, i32(), k);
  Value equal = i32Constant(0);
  int64_t bins = int64_t{1} << kDigitBits;
  int64_t binsPerLane = bins / kWarpSize;
  Value lane = kernel.lane();
  Value isWarp0 = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, thread,
                                        index(kWarpSize));
  for (int64_t pass = 0; pass < 32 / kDigitBits; ++pass) {
    int64_t shift = 32 - kDigitBits * (pass + 1);
    kernel.forEachDistributed(bins, [&](Value bin) {
      memref::StoreOp::create(b, i32Constant(0), histogram, bin);
    });
    forEachBatch(cells, [&](ArrayRef<Value> cellBatch) {
      SmallVector<Value, 8> keys = keysAt(cellBatch);
      for (auto [cell, key] : llvm::zip_equal(cellBatch, keys)) {
        Value counts = inMap(cell);
        if (pass > 0)
          counts = arith::AndIOp::create(
              b, counts,
              arith::CmpIOp::create(
                  b, arith::CmpIPredicate::eq,
                  arith::ShRUIOp::create(b, key,
                                         i32Constant(shift + kDigitBits)),
                  prefix));
        // Digit `bins` for keys that do not count: a group of its own.
        Value digit = arith::SelectOp::create(
            b, counts,
            arith::AndIOp::create(
                b, arith::ShRUIOp::create(b, key, i32Constant(shift)),
                i32Constant(bins - 1)),
            i32Constant(bins));
        Value group = NVVM::MatchSyncOp::create(
            b, i32(), i32Constant(-1), digit, NVVM::MatchSyncKind::any);
        Value leader =
            arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                  math::CountTrailingZerosOp::create(b, group),
                                  arith::IndexCastOp::create(b, i32(), lane));
        Value amount = math::CtPopOp::create(b, group);
        auto ifLeader =
            scf::IfOp::create(b, arith::AndIOp::create(b, leader, counts),
                              /*withElseRegion=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifLeader.thenBlock());
        memref::AtomicRMWOp::create(
            b, arith::AtomicRMWKind::addi, amount, histogram,
            ValueRange{arith::IndexCastOp::create(b, b.getIndexType(), digit)});
      }
    });
    gpu::BarrierOp::create(b);
    // Warp 0: lane l holds bins [8l, 8l + 8); an inclusive shuffle scan of
    // the lanes' totals gives each lane the keys below its bins; the lane
    // whose range holds `remaining` finds the bin and the rank within.
    auto ifWarp0 = scf::IfOp::create(b, isWarp0, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifWarp0.thenBlock());
      Value firstBin = arith::MulIOp::create(b, lane, index(binsPerLane));
      SmallVector<Value> counts;
      Value laneTotal = i32Constant(0);
      for (int64_t i = 0; i < binsPerLane; ++i) {
        counts.push_back(memref::LoadOp::create(
            b, histogram,
            arith::AddIOp::create(b, firstBin, index(i)).getResult()));
        laneTotal = arith::AddIOp::create(b, laneTotal, counts.back());
      }
      Value inclusive = laneTotal;
      for (int32_t offset = 1; offset < kWarpSize; offset *= 2) {
        auto shuffle = gpu::ShuffleOp::create(b, inclusive, offset, kWarpSize,
                                              gpu::ShuffleMode::UP);
        inclusive = arith::AddIOp::create(
            b, inclusive,
            arith::SelectOp::create(b, shuffle.getValid(),
                                    shuffle.getShuffleResult(),
                                    i32Constant(0)));
      }
      Value below = arith::SubIOp::create(b, inclusive, laneTotal);
      Value holds = arith::AndIOp::create(
          b,
          arith::CmpIOp::create(b, arith::CmpIPredicate::ule, below, remaining),
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, remaining,
                                inclusive));
      auto ifHolds = scf::IfOp::create(b, holds, /*withElseRegion=*/false);
      b.setInsertionPointToStart(ifHolds.thenBlock());
      // Within the lane: the first bin whose running total passes it.
      Value running = below, bin = i32Constant(-1), rank = i32Constant(0),
            count = i32Constant(0);
      for (int64_t i = 0; i < binsPerLane; ++i) {
        Value through = arith::AddIOp::create(b, running, counts[i]);
        Value here = arith::AndIOp::create(
            b,
            arith::CmpIOp::create(b, arith::CmpIPredicate::slt, bin,
                                  i32Constant(0)),
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, remaining,
                                  through));
        bin = arith::SelectOp::create(
            b, here,
            arith::IndexCastOp::create(
                b, i32(), arith::AddIOp::create(b, firstBin, index(i)))
                .getResult(),
            bin);
        rank = arith::SelectOp::create(
            b, here, arith::SubIOp::create(b, remaining, running), rank);
        count = arith::SelectOp::create(b, here, counts[i], count);
        running = through;
      }
      memref::StoreOp::create(
          b,
          arith::OrIOp::create(
              b, arith::ShLIOp::create(b, prefix, i32Constant(kDigitBits)),
              bin),
          state, index(0));
      memref::StoreOp::create(b, rank, state, index(1));
      memref::StoreOp::create(b, count, state, index(2));
    }
    gpu::BarrierOp::create(b);
    prefix = memref::LoadOp::create(b, state, index(0));
    remaining = memref::LoadOp::create(b, state, index(1));
    equal = memref::LoadOp::create(b, state, index(2));
    gpu::BarrierOp::create(b);
  }
  return {prefix, remaining, equal};
}

void SelectionKernel::emitWalks(Value threshold, Value stripe) {
  Value zero = index(0), one = index(1);
  Value walks = arith::AddIOp::create(b, blocks, blocks);
  Value width = arith::AddIOp::create(b, blocks, one);
  // Rows of a stripe after its first: each stripe holds rows [r, r + R]
  // of the padded map, and a walk moves on while its row is below r + R.
  Value stripeRows = arith::SubIOp::create(
      b, arith::DivUIOp::create(b, index(kStripeValues), width), one);
  Value fits =
      arith::CmpIOp::create(b, arith::CmpIPredicate::uge, stripeRows, one);
  auto loop = scf::ForOp::create(b, zero, walks, index(kSelectThreads));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value walk = arith::AddIOp::create(b, loop.getInductionVar(), thread);
  Value fromTop =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, walk, blocks);
  Value active =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, walk, walks);
  // A thread without a walk starts outside the map.
  Value startRow = arith::SelectOp::create(
      b, active,
      arith::SelectOp::create(b, fromTop, zero,
                              arith::SubIOp::create(b, walk, blocks)),
      blocks);
  Value startCol = arith::SelectOp::create(
      b, active, arith::SelectOp::create(b, fromTop, walk, zero), blocks);
  auto ifFits = scf::IfOp::create(b, fits, /*withElseRegion=*/true);
  {
    // The stripes: load rows [r, r + R] (zeros past the map), walk on.
    OpBuilder::InsertionGuard ifGuard(b);
    b.setInsertionPointToStart(ifFits.thenBlock());
    auto stripes = scf::ForOp::create(b, zero, blocks, stripeRows,
                                      ValueRange{startRow, startCol});
    b.setInsertionPointToStart(stripes.getBody());
    Value first = stripes.getInductionVar();
    gpu::BarrierOp::create(b);
    // Value i of the stripe is (row, col) = (i / width, i % width);
    // outside the map it is 0.
    Value last = arith::SubIOp::create(b, blocks, one);
    forEachBatch(
        arith::MulIOp::create(b, arith::AddIOp::create(b, stripeRows, one),
                              width),
        [&](ArrayRef<Value> batch) {
          SmallVector<Value, kBatch> rows, cols, values;
          for (Value i : batch) {
            rows.push_back(arith::AddIOp::create(
                b, first, arith::DivUIOp::create(b, i, width)));
            cols.push_back(arith::RemUIOp::create(b, i, width));
            values.push_back(memref::LoadOp::create(
                b, blockMap,
                arith::AddIOp::create(
                    b,
                    arith::MulIOp::create(
                        b, arith::MinUIOp::create(b, rows.back(), last),
                        blocks),
                    arith::MinUIOp::create(b, cols.back(), last))
                    .getResult()));
          }
          Value stripeEnd = arith::MulIOp::create(
              b, arith::AddIOp::create(b, stripeRows, one), width);
          for (auto [i, row, col, value] :
               llvm::zip_equal(batch, rows, cols, values)) {
            Value inside = arith::AndIOp::create(
                b,
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row,
                                      blocks),
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult, col,
                                      blocks));
            auto ifInStripe = scf::IfOp::create(
                b,
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult, i,
                                      stripeEnd),
                /*withElseRegion=*/false);
            OpBuilder::InsertionGuard storeGuard(b);
            b.setInsertionPointToStart(ifInStripe.thenBlock());
            memref::StoreOp::create(
                b,
                arith::SelectOp::create(
                    b, inside, value,
                    arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f))),
                stripe, i);
          }
        });
    gpu::BarrierOp::create(b);
    auto inStripe = [&](OpBuilder &builder, Value x, Value y) -> Value {
      ImplicitLocOpBuilder lb(b.getLoc(), builder);
      return memref::LoadOp::create(
          lb, stripe,
          arith::AddIOp::create(
              lb,
              arith::MulIOp::create(lb, arith::SubIOp::create(lb, x, first),
                                    width),
              y)
              .getResult());
    };
    Value limit = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, first, stripeRows), blocks);
    auto [x, y] = op.buildWalk(
        b, b.getLoc(), inStripe, op.getBlockMask(), blocks, limit, threshold,
        stripes.getRegionIterArg(0), stripes.getRegionIterArg(1));
    scf::YieldOp::create(b, ValueRange{x, y});
  }
  {
    // A map too wide for two rows of the stripe: walk in global memory.
    OpBuilder::InsertionGuard ifGuard(b);
    b.setInsertionPointToStart(ifFits.elseBlock());
    auto inMap = [&](OpBuilder &builder, Value x, Value y) -> Value {
      return op.buildPaddedValue(
          builder, b.getLoc(), blocks, x, y,
          [&](OpBuilder &reader, Value row, Value col) -> Value {
            ImplicitLocOpBuilder rb(b.getLoc(), reader);
            return memref::LoadOp::create(
                rb, blockMap,
                arith::AddIOp::create(
                    rb, arith::MulIOp::create(rb, row, blocks), col)
                    .getResult());
          });
    };
    op.buildWalk(b, b.getLoc(), inMap, op.getBlockMask(), blocks, blocks,
                 threshold, startRow, startCol);
  }
}

void SelectionKernel::emitFloodFill(Value stripe) {
  FloodFillOp::QuantileRanks ranks =
      op.buildQuantileRanks(b, b.getLoc(), cells);
  Type f64 = b.getF64Type();
  Selected low = select(ranks.low);
  // The high rank's value: the low one while the keys equal to it reach
  // past the high rank (always when the ranks are equal), else the next
  // larger key.
  Value equalAfterLow = arith::SubIOp::create(b, low.equal, low.rankAmongEqual);
  Value sameValue = arith::CmpIOp::create(
      b, arith::CmpIPredicate::ult,
      arith::SubIOp::create(b, ranks.high, ranks.low),
      arith::IndexCastOp::create(b, b.getIndexType(), equalAfterLow));
  auto ifSame = scf::IfOp::create(b, TypeRange{i32()}, sameValue,
                                  /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifSame.thenBlock());
    scf::YieldOp::create(b, ValueRange{low.key});
    b.setInsertionPointToStart(ifSame.elseBlock());
    // The smallest key above the low one: an atomic min in shared memory.
    auto ifFirst = scf::IfOp::create(b, isThread0(), /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard firstGuard(b);
      b.setInsertionPointToStart(ifFirst.thenBlock());
      memref::StoreOp::create(b, i32Constant(-1), state, index(3));
    }
    gpu::BarrierOp::create(b);
    forEachBatch(cells, [&](ArrayRef<Value> cellBatch) {
      SmallVector<Value, 8> keys = keysAt(cellBatch);
      for (auto [cell, key] : llvm::zip_equal(cellBatch, keys)) {
        auto ifAbove = scf::IfOp::create(
            b,
            arith::AndIOp::create(
                b, inMap(cell),
                arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, key,
                                      low.key)),
            /*withElseRegion=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifAbove.thenBlock());
        memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::minu, key, state,
                                    ValueRange{index(3)});
      }
    });
    gpu::BarrierOp::create(b);
    Value next = memref::LoadOp::create(b, state, index(3));
    gpu::BarrierOp::create(b);
    scf::YieldOp::create(b, ValueRange{next});
  }
  Value threshold = op.buildInterpolation(
      b, b.getLoc(), arith::ExtFOp::create(b, f64, valueOf(low.key)),
      arith::ExtFOp::create(b, f64, valueOf(ifSame.getResult(0))),
      ranks.fraction);
  emitWalks(threshold, stripe);
  // The diagonal: every store of the walks and of this loop writes 1, so
  // their order does not matter.
  auto diagonal = scf::ForOp::create(b, thread, blocks, index(kSelectThreads));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(diagonal.getBody());
  storeMask(diagonal.getInductionVar(), diagonal.getInductionVar(), 1);
}

void SelectionKernel::emitTopK() {
  Type i64 = b.getI64Type(), f64 = b.getF64Type();
  auto toF64 = [&](Value indexValue) -> Value {
    return arith::UIToFPOp::create(
        b, f64, arith::IndexCastOp::create(b, i64, indexValue));
  };
  // keep = max(int(density nb² - nb), 0), as the CPU lowering computes it.
  Value wanted = arith::SubFOp::create(
      b,
      arith::MulFOp::create(
          b, toF64(cells),
          arith::ConstantOp::create(
              b, b.getF64FloatAttr(op.getDensity()->convertToDouble()))),
      toF64(blocks));
  Value keep = arith::IndexCastOp::create(
      b, b.getIndexType(),
      arith::MaxSIOp::create(
          b, arith::FPToSIOp::create(b, i64, math::TruncOp::create(b, wanted)),
          arith::ConstantIntOp::create(b, i64, 0)));
  Value keepsAny =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, keep, index(0));
  // The keep-th largest key is the (cells - keep)-th smallest; of the keys
  // equal to it, the first (equal - rank among equal) in row-major order
  // are kept. With keep = 0 nothing is (no key is above all ones).
  Selected kth = select(arith::SelectOp::create(
      b, keepsAny, arith::SubIOp::create(b, cells, keep), index(0)));
  Value bound = arith::SelectOp::create(b, keepsAny, kth.key, i32Constant(-1));
  Value tiesKept = arith::SelectOp::create(
      b, keepsAny, arith::SubIOp::create(b, kth.equal, kth.rankAmongEqual),
      i32Constant(0));
  // Batches of kBatch cells per thread (cell base + u · threads + thread),
  // counted in cell order: u by u, the ties before carried along.
  auto loop =
      scf::ForOp::create(b, index(0), cells, index(kBatch * kSelectThreads),
                         ValueRange{i32Constant(0)});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value, kBatch> cellBatch;
  for (int64_t u = 0; u < kBatch; ++u)
    cellBatch.push_back(arith::AddIOp::create(
        b, loop.getInductionVar(),
        arith::AddIOp::create(b, thread, index(u * kSelectThreads))));
  SmallVector<Value, 8> keys = keysAt(cellBatch);
  Value tiesSoFar = loop.getRegionIterArg(0);
  Type element = cast<MemRefType>(op.getBlockMask().getType()).getElementType();
  for (auto [cell, key] : llvm::zip_equal(cellBatch, keys)) {
    Value inside = inMap(cell);
    Value tie = arith::AndIOp::create(
        b, inside,
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, key, bound));
    KernelBuilder::FlagCount ties =
        kernel.countFlags(tie, warpCounts, kSelectThreads / kWarpSize);
    Value tiesBefore = arith::AddIOp::create(b, tiesSoFar, ties.before);
    tiesSoFar = arith::AddIOp::create(b, tiesSoFar, ties.total);
    Value x = arith::DivUIOp::create(b, cell, blocks);
    Value y = arith::RemUIOp::create(b, cell, blocks);
    Value kept = arith::OrIOp::create(
        b,
        arith::OrIOp::create(
            b, arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, key, bound),
            arith::AndIOp::create(
                b, tie,
                arith::CmpIOp::create(b, arith::CmpIPredicate::slt, tiesBefore,
                                      tiesKept))),
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y));
    auto ifInside = scf::IfOp::create(b, inside, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard ifGuard(b);
    b.setInsertionPointToStart(ifInside.thenBlock());
    Value stored = element.isInteger(1)
                       ? kept
                       : Value(arith::ExtUIOp::create(b, element, kept));
    memref::StoreOp::create(b, stored, op.getBlockMask(), ValueRange{x, y});
  }
  scf::YieldOp::create(b, ValueRange{tiesSoFar});
}

FailureOr<gpu::LaunchOp>
attn::emitFloodFillSelection(ImplicitLocOpBuilder &b, FloodFillOp op,
                             LaunchFacts &facts, Value blocks, Value blockMap) {
  OpBuilder::InsertionGuard guard(b);
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  bool topK = op.getVariant() == SpionVariant::ConvTopK;
  SharedMemoryLayout layout;
  layout.add(paddedType(MemRefType::get({int64_t{1} << kDigitBits}, i32)));
  layout.add(paddedType(MemRefType::get({4}, i32)));
  layout.add(paddedType(MemRefType::get({kSelectThreads / kWarpSize}, i32)));
  if (!topK)
    layout.add(paddedType(MemRefType::get({kStripeValues}, f32)));
  Value one = arith::ConstantIndexOp::create(b, 1);
  FailureOr<gpu::LaunchOp> launch =
      facts.createLaunch(b, {one, one, one}, kSelectThreads, layout.getBytes());
  if (failed(launch))
    return failure();
  b.setInsertionPointToStart(&launch->getBody().front());
  SmallVector<Value> buffers = layout.materialize(b);
  SelectionKernel selection(b, op, blocks, blockMap, launch->getThreadIds().x,
                            buffers[0], buffers[1], buffers[2]);
  if (topK)
    selection.emitTopK();
  else
    selection.emitFloodFill(buffers[3]);
  gpu::TerminatorOp::create(b);
  return launch;
}
