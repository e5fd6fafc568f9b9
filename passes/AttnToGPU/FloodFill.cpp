//===- FloodFill.cpp - the GPU kernels of attn.flood_fill -------*- C++ -*-===//
//
// See FloodFill.h for the algorithm.
//
//===----------------------------------------------------------------------===//

#include "FloodFill.h"
#include "KernelBuilder.h"
#include "SharedMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace attn;

/// Threads of the block-map kernel and of the threshold-and-walks kernel.
static constexpr int64_t kMapThreads = 256;
static constexpr int64_t kWalkThreads = 1024;
/// Bits per radix-select pass (4 passes over 32-bit keys).
static constexpr int64_t kDigitBits = 8;

/// Starts a gpu.launch of `facts`' next kernel at the insertion point of
/// `b` and moves `b` into its body.
static FailureOr<gpu::LaunchOp> startLaunch(ImplicitLocOpBuilder &b,
                                            LaunchFacts &facts,
                                            ArrayRef<Value> grid,
                                            int64_t threads,
                                            const SharedMemoryLayout &layout) {
  FailureOr<gpu::LaunchOp> launch =
      facts.createLaunch(b, grid, threads, layout.getBytes());
  if (succeeded(launch))
    b.setInsertionPointToStart(&launch->getBody().front());
  return launch;
}

FailureOr<SmallVector<gpu::LaunchOp, 2>>
attn::convertFloodFill(FloodFillOp op, LaunchFacts &facts) {
  if (op.getVariant() == SpionVariant::ConvTopK)
    return op.emitOpError()
           << "attn-to-gpu: variant conv_topk has no GPU lowering yet";
  if (failed(facts.describeFloodFill(op)))
    return failure();
  ImplicitLocOpBuilder b(op.getLoc(), op);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto i32Constant = [&](int64_t value) -> Value {
    return arith::ConstantIntOp::create(b, i32, value);
  };
  Value mask = op.getBlockMask();
  Type maskElement = cast<MemRefType>(mask.getType()).getElementType();
  Value blocks = arith::CeilDivUIOp::create(
      b, memref::DimOp::create(b, op.getScores(), 0),
      index(op.getBlockSize()));
  auto blockMap = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32),
      ValueRange{blocks, blocks});
  blockMap->setAttr(kScratchAttrName, b.getStringAttr("spion_block_map"));
  Value one = index(1);
  SmallVector<gpu::LaunchOp, 2> launches;

  // 1. The block map, one block of threads per (x, y).
  {
    OpBuilder::InsertionGuard guard(b);
    SharedMemoryLayout layout;
    layout.add(paddedType(MemRefType::get({kMapThreads / kWarpSize}, f32)));
    FailureOr<gpu::LaunchOp> launch =
        startLaunch(b, facts, {blocks, blocks, one}, kMapThreads, layout);
    if (failed(launch))
      return failure();
    launches.push_back(*launch);
    Value partials = layout.materialize(b).front();
    Value thread = launch->getThreadIds().x;
    Value x = launch->getBlockIds().y, y = launch->getBlockIds().x;
    // A warp per row, a lane per column: each row segment is read
    // coalesced.
    Value lane = arith::RemUIOp::create(b, thread, index(kWarpSize));
    Value warp = arith::DivUIOp::create(b, thread, index(kWarpSize));
    Value sum = op.buildBlockSum(b, b.getLoc(), x, y, warp,
                                 index(kMapThreads / kWarpSize), lane,
                                 index(kWarpSize));
    for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2)
      sum = arith::AddFOp::create(
          b, sum,
          gpu::ShuffleOp::create(b, sum, offset, kWarpSize,
                                 gpu::ShuffleMode::XOR)
              .getShuffleResult());
    auto ifLane0 = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, index(0)),
        /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifLane0.thenBlock());
      memref::StoreOp::create(b, sum, partials, warp);
    }
    gpu::BarrierOp::create(b);
    auto ifFirst = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, thread, index(0)),
        /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifFirst.thenBlock());
      Value total = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
      for (int64_t w = 0; w < kMapThreads / kWarpSize; ++w)
        total = arith::AddFOp::create(
            b, total, memref::LoadOp::create(b, partials, index(w)));
      Value average = arith::MulFOp::create(
          b, total,
          arith::ConstantOp::create(
              b, b.getF32FloatAttr(1.0f /
                                   static_cast<float>(op.getBlockArea()))));
      memref::StoreOp::create(b, average, blockMap, ValueRange{x, y});
      memref::StoreOp::create(
          b, arith::ConstantOp::create(b, b.getIntegerAttr(maskElement, 0)),
          mask, ValueRange{x, y});
    }
    gpu::TerminatorOp::create(b);
  }

  // 2. The threshold, the walks and the diagonal, in one block.
  {
    OpBuilder::InsertionGuard guard(b);
    SharedMemoryLayout layout;
    int64_t bins = int64_t{1} << kDigitBits;
    layout.add(paddedType(MemRefType::get({bins}, i32)));
    layout.add(paddedType(MemRefType::get({2}, i32)));
    FailureOr<gpu::LaunchOp> launch =
        startLaunch(b, facts, {one, one, one}, kWalkThreads, layout);
    if (failed(launch))
      return failure();
    launches.push_back(*launch);
    SmallVector<Value> buffers = layout.materialize(b);
    Value histogram = buffers[0], state = buffers[1];
    Value thread = launch->getThreadIds().x;
    Value isFirst =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, thread, index(0));
    Value cells = arith::MulIOp::create(b, blocks, blocks);
    Value signBit = i32Constant(INT32_MIN);
    auto forEachThreadOf = [&](Value count, function_ref<void(Value)> body) {
      auto loop = scf::ForOp::create(b, thread, count, index(kWalkThreads));
      OpBuilder::InsertionGuard loopGuard(b);
      b.setInsertionPointToStart(loop.getBody());
      body(loop.getInductionVar());
    };
    auto ifFirstThread = [&](function_ref<void()> body) {
      auto ifOp = scf::IfOp::create(b, isFirst, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      body();
    };
    // The k-th smallest map value: f32 bits made order-preserving as
    // unsigned keys (negative: all bits flipped; else the sign bit), then
    // one 8-bit digit per pass from the top.
    auto select = [&](Value k) -> Value {
      Value prefix = i32Constant(0);
      Value remaining = arith::IndexCastOp::create(b, i32, k);
      for (int64_t pass = 0; pass < 32 / kDigitBits; ++pass) {
        int64_t shift = 32 - kDigitBits * (pass + 1);
        forEachThreadOf(index(bins), [&](Value bin) {
          memref::StoreOp::create(b, i32Constant(0), histogram, bin);
        });
        gpu::BarrierOp::create(b);
        forEachThreadOf(cells, [&](Value cell) {
          Value value = memref::LoadOp::create(
              b, blockMap,
              ValueRange{arith::DivUIOp::create(b, cell, blocks),
                         arith::RemUIOp::create(b, cell, blocks)});
          Value bits = arith::BitcastOp::create(b, i32, value);
          Value flip = arith::OrIOp::create(
              b, arith::ShRSIOp::create(b, bits, i32Constant(31)), signBit);
          Value key = arith::XOrIOp::create(b, bits, flip);
          Value matches = arith::ConstantIntOp::create(b, 1, 1);
          if (pass > 0)
            matches = arith::CmpIOp::create(
                b, arith::CmpIPredicate::eq,
                arith::ShRUIOp::create(b, key,
                                       i32Constant(shift + kDigitBits)),
                prefix);
          auto ifMatches =
              scf::IfOp::create(b, matches, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard ifGuard(b);
          b.setInsertionPointToStart(ifMatches.thenBlock());
          Value digit = arith::AndIOp::create(
              b, arith::ShRUIOp::create(b, key, i32Constant(shift)),
              i32Constant(bins - 1));
          memref::AtomicRMWOp::create(
              b, arith::AtomicRMWKind::addi, i32Constant(1), histogram,
              ValueRange{arith::IndexCastOp::create(b, b.getIndexType(),
                                                    digit)});
        });
        gpu::BarrierOp::create(b);
        // Thread 0: the bin holding rank `remaining`, and the rank within.
        ifFirstThread([&] {
          Value falseValue = arith::ConstantIntOp::create(b, 0, 1);
          auto scan = scf::ForOp::create(
              b, index(0), index(bins), one,
              ValueRange{i32Constant(0), i32Constant(0), remaining,
                         falseValue});
          {
            OpBuilder::InsertionGuard scanGuard(b);
            b.setInsertionPointToStart(scan.getBody());
            Value bin = scan.getInductionVar();
            Value below = scan.getRegionIterArg(0);
            Value found = scan.getRegionIterArg(3);
            Value count = memref::LoadOp::create(b, histogram, bin);
            Value through = arith::AddIOp::create(b, below, count);
            Value here = arith::AndIOp::create(
                b,
                arith::XOrIOp::create(b, found,
                                      arith::ConstantIntOp::create(b, 1, 1)),
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult, remaining,
                                      through));
            scf::YieldOp::create(
                b, ValueRange{
                       through,
                       arith::SelectOp::create(
                           b, here, arith::IndexCastOp::create(b, i32, bin),
                           scan.getRegionIterArg(1)),
                       arith::SelectOp::create(
                           b, here, arith::SubIOp::create(b, remaining, below),
                           scan.getRegionIterArg(2)),
                       arith::OrIOp::create(b, found, here)});
          }
          Value next = arith::OrIOp::create(
              b, arith::ShLIOp::create(b, prefix, i32Constant(kDigitBits)),
              scan.getResult(1));
          memref::StoreOp::create(b, next, state, index(0));
          memref::StoreOp::create(b, scan.getResult(2), state, index(1));
        });
        gpu::BarrierOp::create(b);
        prefix = memref::LoadOp::create(b, state, index(0));
        remaining = memref::LoadOp::create(b, state, index(1));
        gpu::BarrierOp::create(b);
      }
      // Back from the key to the f32 bits.
      Value negative = arith::CmpIOp::create(
          b, arith::CmpIPredicate::eq,
          arith::AndIOp::create(b, prefix, signBit), i32Constant(0));
      Value bits = arith::SelectOp::create(
          b, negative, arith::XOrIOp::create(b, prefix, i32Constant(-1)),
          arith::XOrIOp::create(b, prefix, signBit));
      return arith::ExtFOp::create(b, b.getF64Type(),
                                   arith::BitcastOp::create(b, f32, bits).getResult());
    };
    FloodFillOp::QuantileRanks ranks =
        op.buildQuantileRanks(b, b.getLoc(), cells);
    Value low = select(ranks.low);
    Value high = select(ranks.high);
    Value threshold =
        op.buildInterpolation(b, b.getLoc(), low, high, ranks.fraction);
    // The walks (from (0, w) for w < nb, then from (w - nb, 0)) and the
    // diagonal: every store writes 1, so their order does not matter.
    forEachThreadOf(arith::AddIOp::create(b, blocks, blocks), [&](Value w) {
      Value fromTop =
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, w, blocks);
      Value other = arith::SubIOp::create(b, w, blocks);
      op.buildWalk(b, b.getLoc(), blockMap, mask, blocks, threshold,
                   arith::SelectOp::create(b, fromTop, index(0), other),
                   arith::SelectOp::create(b, fromTop, w, index(0)));
    });
    forEachThreadOf(blocks, [&](Value d) {
      memref::StoreOp::create(
          b, arith::ConstantOp::create(b, b.getIntegerAttr(maskElement, 1)),
          mask, ValueRange{d, d});
    });
    gpu::TerminatorOp::create(b);
  }
  b.setInsertionPointAfter(launches.back());
  memref::DeallocOp::create(b, blockMap);
  op.erase();
  return launches;
}
