//===- FloodFill.cpp - the GPU kernels of attn.flood_fill -------*- C++ -*-===//
//
// See FloodFill.h for the algorithm.
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

/// Threads of the block-map kernels.
static constexpr int64_t kMapThreads = 256;

namespace {
/// The terms of a block's one-read sum: its own cell and the six cells its
/// scores reach along the diagonal filter (index into the partial sums).
enum Term : int64_t { Own, Up, Left, UpLeft, Down, Right, DownRight, Terms };

/// A kernel with a block of kMapThreads threads per cell (x, y) of the
/// block map, and shared memory for a few sums per warp.
struct CellKernel {
  Value warpSums, thread, x, y;
};
} // namespace

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

/// Starts a CellKernel launch at the insertion point of `b` and moves `b`
/// into its body.
static FailureOr<CellKernel>
startCellKernel(ImplicitLocOpBuilder &b, LaunchFacts &facts, Value blocks,
                int64_t terms, SmallVectorImpl<gpu::LaunchOp> &launches) {
  SharedMemoryLayout layout;
  layout.add(paddedType(
      MemRefType::get({terms * (kMapThreads / kWarpSize)}, b.getF32Type())));
  FailureOr<gpu::LaunchOp> launch = startLaunch(
      b, facts, {blocks, blocks, arith::ConstantIndexOp::create(b, 1)},
      kMapThreads, layout);
  if (failed(launch))
    return failure();
  launches.push_back(*launch);
  return CellKernel{layout.materialize(b).front(), launch->getThreadIds().x,
                    launch->getBlockIds().y, launch->getBlockIds().x};
}

/// Sums each of `sums` (f32, one per thread) over the block: warp shuffles,
/// then thread t < sums.size() adds the warps' sums of term t in warp order
/// and calls `write(t's total)`.
static void reduceTerms(ImplicitLocOpBuilder &b, const CellKernel &cell,
                        ArrayRef<Value> sums, function_ref<void(Value)> write) {
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  KernelBuilder kernel(b, cell.thread, index(kMapThreads));
  int64_t terms = sums.size();
  SmallVector<Value> warpTotals;
  for (Value sum : sums)
    warpTotals.push_back(kernel.warpSum(sum));
  Value warp = kernel.warp();
  auto ifLane0 =
      scf::IfOp::create(b,
                        arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                              kernel.lane(), index(0)),
                        /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLane0.thenBlock());
    for (int64_t term = 0; term < terms; ++term)
      memref::StoreOp::create(
          b, warpTotals[term], cell.warpSums,
          arith::AddIOp::create(b, arith::MulIOp::create(b, warp, index(terms)),
                                index(term))
              .getResult());
  }
  gpu::BarrierOp::create(b);
  auto ifTerm =
      scf::IfOp::create(b,
                        arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                              cell.thread, index(terms)),
                        /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifTerm.thenBlock());
  Value total = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  for (int64_t w = 0; w < kMapThreads / kWarpSize; ++w)
    total = arith::AddFOp::create(
        b, total,
        memref::LoadOp::create(
            b, cell.warpSums,
            arith::AddIOp::create(b, index(w * terms), cell.thread)
                .getResult()));
  write(total);
}

/// Stores the average of a cell whose sum is `total` into the flattened
/// `blockMap` and clears the cell of the mask.
static void writeAverage(ImplicitLocOpBuilder &b, FloodFillOp op,
                         Value blockMap, Value blocks, Value x, Value y,
                         Value total) {
  memref::StoreOp::create(
      b,
      arith::MulFOp::create(
          b, total,
          arith::ConstantOp::create(
              b,
              b.getF32FloatAttr(1.0f / static_cast<float>(op.getBlockArea())))),
      blockMap,
      arith::AddIOp::create(b, arith::MulIOp::create(b, x, blocks), y)
          .getResult());
  Type maskElement =
      cast<MemRefType>(op.getBlockMask().getType()).getElementType();
  memref::StoreOp::create(
      b, arith::ConstantOp::create(b, b.getIntegerAttr(maskElement, 0)),
      op.getBlockMask(), ValueRange{x, y});
}

/// The one-read block map (filter half width h < bs): block (x, y) of
/// threads reads its own bs x bs block of scores once, 16 bytes per load,
/// and adds each score A[a, b] (local position) with its tap counts to
/// seven partial sums, one per Term: with mA = min(a, h), mA' = min(bs-1-a,
/// h) and mB, mB' alike for b,
///   own   = min(mA, mB) + min(mA', mB') + 1
///   up    = max(mB - mA, 0), left  = max(mA - mB, 0), up-left  = h -
///   max(mA, mB) down  = max(mB' - mA', 0), right = max(mA' - mB', 0),
///   down-right = h - max(mA', mB')
/// (the taps t in [-h, h] that carry (a - t, b - t) into each cell; they
/// sum to 2h + 1). In rows [h, bs - 1 - h] the weights depend on b only
/// (own mB + mB' + 1, left h - mB, right h - mB'): a thread whose columns
/// stay the same sums such rows per column and weighs the sums once at
/// the end (one add per score instead of ~20 instructions; half of the
/// rows at bs = 64, h = 15). Writes partials[term][x][y]; a second kernel
/// gathers each cell's seven terms in a fixed order. With h = 0 there is
/// only the own term, written as the average straight into `blockMap`.
static LogicalResult emitOneReadMap(ImplicitLocOpBuilder &b, FloodFillOp op,
                                    LaunchFacts &facts, Value blocks,
                                    Value partials, Value blockMap,
                                    SmallVectorImpl<gpu::LaunchOp> &launches) {
  OpBuilder::InsertionGuard guard(b);
  Type f32 = b.getF32Type();
  Value scores = op.getScores();
  Type element = cast<MemRefType>(scores.getType()).getElementType();
  int64_t half = op.getFilterHalfWidth(), size = op.getBlockSize();
  int64_t terms = half > 0 ? int64_t{Terms} : 1;
  int64_t width =
      std::min<int64_t>(128 / element.getIntOrFloatBitWidth(), size);
  int64_t chunksPerRow = size / width, chunks = size * chunksPerRow;
  int64_t perThread = (chunks + kMapThreads - 1) / kMapThreads;
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  FailureOr<CellKernel> cell =
      startCellKernel(b, facts, blocks, terms, launches);
  if (failed(cell))
    return failure();
  Value thread = cell->thread, x = cell->x, y = cell->y;
  KernelBuilder kernel(b, thread, index(kMapThreads));
  Value rowOrigin = arith::MulIOp::create(b, x, index(size));
  Value colOrigin = arith::MulIOp::create(b, y, index(size));
  auto f32Constant = [&](double value) -> Value {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  };
  auto toF32 = [&](Value indexValue) -> Value {
    return arith::UIToFPOp::create(
        b, f32, arith::IndexCastOp::create(b, b.getI32Type(), indexValue));
  };
  Value halfF = f32Constant(half), lastF = f32Constant(size - 1);
  Value zeroF = f32Constant(0.0), oneF = f32Constant(1.0);
  auto minF = [&](Value l, Value r) -> Value {
    return arith::MinNumFOp::create(b, l, r);
  };
  auto maxF = [&](Value l, Value r) -> Value {
    return arith::MaxNumFOp::create(b, l, r);
  };
  // The clamped distances of a local position to the block's low edge
  // (min(a, h)) and high edge (min(bs - 1 - a, h)).
  auto edges = [&](Value local) -> std::pair<Value, Value> {
    Value localF = toF32(local);
    return {minF(localF, halfF),
            minF(arith::SubFOp::create(b, lastF, localF), halfF)};
  };
  SmallVector<Value> sums(terms, zeroF);
  // Whether a thread keeps its columns in every chunk (and its rows step
  // by whole passes), so that interior rows can share their weights.
  bool fixedColumns =
      kMapThreads % chunksPerRow == 0 && chunks % kMapThreads == 0;
  SmallVector<Value> columnSums(width, zeroF);
  VectorType chunkType = VectorType::get({width}, element);
  for (int64_t i = 0; i < perThread; ++i) {
    Value chunk = arith::AddIOp::create(b, thread, index(i * kMapThreads));
    Value a = arith::DivUIOp::create(b, chunk, index(chunksPerRow));
    Value col = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, chunk, index(chunksPerRow)), index(width));
    SmallVector<Value, 2> position{arith::AddIOp::create(b, rowOrigin, a),
                                   arith::AddIOp::create(b, colOrigin, col)};
    Value loaded;
    auto load = [&] {
      return vector::LoadOp::create(
          b, chunkType, scores, position, /*nontemporal=*/false,
          llvm::MaybeAlign(width * element.getIntOrFloatBitWidth() / 8));
    };
    if (chunks % kMapThreads == 0) {
      loaded = load();
    } else {
      auto ifInside =
          scf::IfOp::create(b, TypeRange{chunkType},
                            arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                                  chunk, index(chunks)),
                            /*withElseRegion=*/true);
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifInside.thenBlock());
      scf::YieldOp::create(b, ValueRange{load()});
      b.setInsertionPointToStart(ifInside.elseBlock());
      scf::YieldOp::create(
          b,
          ValueRange{arith::ConstantOp::create(
              b, DenseElementsAttr::get(chunkType, b.getZeroAttr(element)))});
      loaded = ifInside.getResult(0);
    }
    // Rows [h, bs - 1 - h] have the same weights in every row: such
    // chunks only add up their columns.
    int64_t firstRow = i * kMapThreads / chunksPerRow;
    int64_t lastRow = firstRow + kMapThreads / chunksPerRow - 1;
    bool interior = half > 0 && fixedColumns && firstRow >= half &&
                    lastRow <= size - 1 - half;
    auto [lowA, highA] = edges(a);
    for (int64_t j = 0; j < width; ++j) {
      Value score = kernel.toF32(
          vector::ExtractOp::create(b, loaded, ArrayRef<int64_t>{j}));
      if (interior) {
        columnSums[j] = arith::AddFOp::create(b, columnSums[j], score);
        continue;
      }
      if (half == 0) {
        sums[Own] = arith::AddFOp::create(b, sums[Own], score);
        continue;
      }
      auto [lowB, highB] =
          edges(arith::AddIOp::create(b, col, index(j)).getResult());
      Value upSide = arith::SubFOp::create(b, lowB, lowA);
      Value downSide = arith::SubFOp::create(b, highB, highA);
      Value up = maxF(upSide, zeroF), down = maxF(downSide, zeroF);
      Value weights[Terms];
      weights[Own] = arith::AddFOp::create(
          b, arith::AddFOp::create(b, minF(lowA, lowB), minF(highA, highB)),
          oneF);
      weights[Up] = up;
      weights[Left] = arith::SubFOp::create(b, up, upSide);
      weights[UpLeft] = arith::SubFOp::create(b, halfF, maxF(lowA, lowB));
      weights[Down] = down;
      weights[Right] = arith::SubFOp::create(b, down, downSide);
      weights[DownRight] = arith::SubFOp::create(b, halfF, maxF(highA, highB));
      for (int64_t term = 0; term < Terms; ++term)
        sums[term] = math::FmaOp::create(b, weights[term], score, sums[term]);
    }
  }
  if (half > 0 && fixedColumns) {
    // An interior row's weights: own mB + mB' + 1, left h - mB, right h -
    // mB' (mA = mA' = h in the formulas above), the others 0.
    Value col = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, thread, index(chunksPerRow)),
        index(width));
    for (int64_t j = 0; j < width; ++j) {
      auto [lowB, highB] =
          edges(arith::AddIOp::create(b, col, index(j)).getResult());
      Value own =
          arith::AddFOp::create(b, arith::AddFOp::create(b, lowB, highB), oneF);
      sums[Own] = math::FmaOp::create(b, own, columnSums[j], sums[Own]);
      sums[Left] = math::FmaOp::create(b, arith::SubFOp::create(b, halfF, lowB),
                                       columnSums[j], sums[Left]);
      sums[Right] =
          math::FmaOp::create(b, arith::SubFOp::create(b, halfF, highB),
                              columnSums[j], sums[Right]);
    }
  }
  // Thread `term` writes its term's partial sum (or, with one term, the
  // average).
  reduceTerms(b, *cell, sums, [&](Value total) {
    if (half > 0)
      memref::StoreOp::create(b, total, partials, ValueRange{thread, x, y});
    else
      writeAverage(b, op, blockMap, blocks, x, y, total);
  });
  gpu::TerminatorOp::create(b);
  return success();
}

/// Gathers each cell's seven terms (its own, then those its six
/// neighbours' scores carry into it, in Term order) into the average,
/// and clears the mask cell: a thread per cell.
static LogicalResult emitGather(ImplicitLocOpBuilder &b, FloodFillOp op,
                                LaunchFacts &facts, Value blocks,
                                Value partials, Value blockMap,
                                SmallVectorImpl<gpu::LaunchOp> &launches) {
  OpBuilder::InsertionGuard guard(b);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value cells = arith::MulIOp::create(b, blocks, blocks);
  SharedMemoryLayout layout;
  FailureOr<gpu::LaunchOp> launch =
      startLaunch(b, facts,
                  {arith::CeilDivUIOp::create(b, cells, index(kMapThreads)),
                   index(1), index(1)},
                  kMapThreads, layout);
  if (failed(launch))
    return failure();
  launches.push_back(*launch);
  Value cell = arith::AddIOp::create(
      b, arith::MulIOp::create(b, launch->getBlockIds().x, index(kMapThreads)),
      launch->getThreadIds().x);
  auto ifCell = scf::IfOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, cell, cells),
      /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifCell.thenBlock());
  Value x = arith::DivUIOp::create(b, cell, blocks);
  Value y = arith::RemUIOp::create(b, cell, blocks);
  Value last = arith::SubIOp::create(b, blocks, index(1));
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  // The neighbour (x + dx, y + dy)'s `term`, 0 outside the map.
  auto from = [&](Term term, int64_t dx, int64_t dy) -> Value {
    auto shifted = [&](Value coordinate,
                       int64_t delta) -> std::pair<Value, Value> {
      if (delta == 0)
        return {coordinate, Value()};
      if (delta > 0)
        return {arith::MinUIOp::create(
                    b, arith::AddIOp::create(b, coordinate, index(1)), last),
                arith::CmpIOp::create(b, arith::CmpIPredicate::ult, coordinate,
                                      last)};
      return {arith::SubIOp::create(
                  b, arith::MaxUIOp::create(b, coordinate, index(1)), index(1)),
              arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, coordinate,
                                    index(0))};
    };
    auto [row, rowInside] = shifted(x, dx);
    auto [col, colInside] = shifted(y, dy);
    Value value =
        memref::LoadOp::create(b, partials, ValueRange{index(term), row, col});
    Value inside = rowInside && colInside
                       ? Value(arith::AndIOp::create(b, rowInside, colInside))
                       : (rowInside ? rowInside : colInside);
    return inside ? Value(arith::SelectOp::create(b, inside, value, zeroF))
                  : value;
  };
  // A neighbour's Up term lands in the cell above it, and so on.
  Value total = from(Own, 0, 0);
  struct Source {
    Term term;
    int64_t dx, dy;
  };
  static constexpr Source kSources[] = {{Up, 1, 0},     {Left, 0, 1},
                                        {UpLeft, 1, 1}, {Down, -1, 0},
                                        {Right, 0, -1}, {DownRight, -1, -1}};
  for (const Source &source : kSources)
    total = arith::AddFOp::create(b, total,
                                  from(source.term, source.dx, source.dy));
  writeAverage(b, op, blockMap, blocks, x, y, total);
  b.setInsertionPointAfter(ifCell);
  gpu::TerminatorOp::create(b);
  return success();
}

/// The block map of a filter wider than the block (h >= bs): a block of
/// threads per cell sums the cell's whole neighbourhood with the tap
/// weights (FloodFillOp::buildBlockSum), a warp per row and a lane per
/// column, and writes the average.
static LogicalResult
emitNeighbourhoodMap(ImplicitLocOpBuilder &b, FloodFillOp op,
                     LaunchFacts &facts, Value blocks, Value blockMap,
                     SmallVectorImpl<gpu::LaunchOp> &launches) {
  OpBuilder::InsertionGuard guard(b);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  FailureOr<CellKernel> cell = startCellKernel(b, facts, blocks, 1, launches);
  if (failed(cell))
    return failure();
  KernelBuilder kernel(b, cell->thread, index(kMapThreads));
  Value sum = op.buildBlockSum(b, b.getLoc(), cell->x, cell->y, kernel.warp(),
                               index(kMapThreads / kWarpSize), kernel.lane(),
                               index(kWarpSize));
  reduceTerms(b, *cell, {sum}, [&](Value total) {
    writeAverage(b, op, blockMap, blocks, cell->x, cell->y, total);
  });
  gpu::TerminatorOp::create(b);
  return success();
}

FailureOr<SmallVector<gpu::LaunchOp, 2>>
attn::convertFloodFill(FloodFillOp op, LaunchFacts &facts) {
  if (failed(facts.describeFloodFill(op)))
    return failure();
  ImplicitLocOpBuilder b(op.getLoc(), op);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Type f32 = b.getF32Type();
  Value blocks = arith::CeilDivUIOp::create(
      b, memref::DimOp::create(b, op.getScores(), 0),
      index(op.getBlockSize()));
  Value cells = arith::MulIOp::create(b, blocks, blocks);
  auto blockMap = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, f32), ValueRange{cells});
  blockMap->setAttr(kScratchAttrName, b.getStringAttr("spion_block_map"));
  SmallVector<gpu::LaunchOp, 2> launches;

  // 1. The block map.
  int64_t half = op.getFilterHalfWidth();
  memref::AllocOp partials;
  if (half >= static_cast<int64_t>(op.getBlockSize())) {
    if (failed(emitNeighbourhoodMap(b, op, facts, blocks, blockMap, launches)))
      return failure();
  } else {
    if (half > 0) {
      partials = memref::AllocOp::create(
          b,
          MemRefType::get({Terms, ShapedType::kDynamic, ShapedType::kDynamic},
                          f32),
          ValueRange{blocks, blocks});
      partials->setAttr(kScratchAttrName,
                        b.getStringAttr("spion_partial_sums"));
    }
    if (failed(emitOneReadMap(b, op, facts, blocks,
                              partials ? partials.getResult() : Value(),
                              blockMap, launches)))
      return failure();
    if (half > 0 &&
        failed(emitGather(b, op, facts, blocks, partials, blockMap, launches)))
      return failure();
  }

  // 2. The selection (FloodFillSelection.cpp).
  FailureOr<gpu::LaunchOp> selection =
      emitFloodFillSelection(b, op, facts, blocks, blockMap);
  if (failed(selection))
    return failure();
  launches.push_back(*selection);
  b.setInsertionPointAfter(launches.back());
  memref::DeallocOp::create(b, blockMap);
  if (partials)
    memref::DeallocOp::create(b, partials);
  op.erase();
  return launches;
}
