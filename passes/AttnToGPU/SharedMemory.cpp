//===- SharedMemory.cpp - tile buffers in dynamic shared memory -*- C++ -*-===//

#include "SharedMemory.h"

#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace attn;

MemRefType attn::paddedType(MemRefType tile, int64_t stages) {
  SmallVector<int64_t> shape(tile.getShape());
  int64_t elementBytes = tile.getElementTypeBitWidth() / 8;
  if (shape.size() == 2)
    shape.back() += rowPadBytes(elementBytes) / elementBytes;
  if (stages > 0)
    shape.insert(shape.begin(), stages);
  auto workgroup = gpu::AddressSpaceAttr::get(
      tile.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  return MemRefType::get(shape, tile.getElementType(),
                         MemRefLayoutAttrInterface(), workgroup);
}

Value attn::tileView(ImplicitLocOpBuilder &b, Value buffer, MemRefType tileType,
                     Value stage) {
  auto bufferType = cast<MemRefType>(buffer.getType());
  SmallVector<OpFoldResult> offsets(bufferType.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(tileType.getDimSize(0)),
                                  b.getIndexAttr(tileType.getDimSize(1))};
  SmallVector<OpFoldResult> strides(bufferType.getRank(), b.getIndexAttr(1));
  if (!stage)
    return memref::SubViewOp::create(b, buffer, offsets, sizes, strides);
  offsets[0] = stage;
  sizes.insert(sizes.begin(), b.getIndexAttr(1));
  auto viewType = memref::SubViewOp::inferRankReducedResultType(
      tileType.getShape(), bufferType, offsets, sizes, strides);
  return memref::SubViewOp::create(b, viewType, buffer, offsets, sizes,
                                   strides);
}

unsigned SharedMemoryLayout::add(MemRefType bufferType) {
  types.push_back(bufferType);
  offsets.push_back(bytes);
  bytes += llvm::alignTo(bufferType.getNumElements() *
                             (bufferType.getElementTypeBitWidth() / 8),
                         kSharedBufferAlignment);
  return types.size() - 1;
}

SmallVector<Value>
SharedMemoryLayout::materialize(ImplicitLocOpBuilder &b) const {
  auto workgroup = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  Value base = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                         MemRefLayoutAttrInterface(), workgroup));
  SmallVector<Value> buffers;
  for (auto [type, offset] : llvm::zip(types, offsets))
    buffers.push_back(memref::ViewOp::create(
        b, type, base, arith::ConstantIndexOp::create(b, offset),
        ValueRange{}));
  return buffers;
}

/// Thread `threadId` copies the 16-byte chunks threadId + i · threads. A
/// tile that lies wholly inside the source (every tile but the last) is
/// copied without per-chunk checks, so that each copy's addresses are one
/// per-tile base plus a constant; rows of the last tile past the source's
/// end read no bytes and are zero-filled, from a source row clamped into
/// the tensor.
Value attn::rowBlockSwizzle(KernelBuilder &t, Value row) {
  ImplicitLocOpBuilder &b = t.b;
  Value block = arith::RemUIOp::create(
      b, arith::DivUIOp::create(b, row, t.index(8)), t.index(4));
  // reverse2(q) = (q mod 2) * 2 + q / 2.
  Value reversed = arith::AddIOp::create(
      b,
      arith::MulIOp::create(b, arith::RemUIOp::create(b, block, t.index(2)),
                            t.index(2)),
      arith::DivUIOp::create(b, block, t.index(2)));
  return arith::MulIOp::create(b, reversed, t.index(16));
}

void attn::issueTileCopy(KernelBuilder &t, int64_t threads, Value source,
                         Value batch, Value head, Value firstRow, Value buffer,
                         Value stage, int64_t rows, int64_t cols, Value enabled,
                         Value rowOrder, bool swizzled, Value firstCol) {
  assert((!swizzled || cols >= 64) && "a swizzled row needs 8 chunks");
  ImplicitLocOpBuilder &b = t.b;
  Value threadId = t.threadId;
  int64_t chunks = cols / 8;
  // (row, column) of each chunk this thread copies. When the threads
  // cover whole rows, every chunk of a thread has the same column and
  // rows `threads / chunks` apart.
  SmallVector<std::pair<Value, Value>> chunkCoords;
  int64_t copies = rows * chunks / threads;
  bool wholeRows = threads % chunks == 0;
  Value row0, col0;
  if (wholeRows) {
    auto [row, chunk] = t.split(threadId, chunks);
    row0 = row;
    col0 = arith::MulIOp::create(b, chunk, t.index(8));
    for (int64_t i = 0; i < copies; ++i)
      chunkCoords.push_back(
          {arith::AddIOp::create(b, row0, t.index(i * (threads / chunks))),
           col0});
  } else {
    for (int64_t i = 0; i < copies; ++i) {
      auto [row, chunk] = t.split(
          arith::AddIOp::create(b, threadId, t.index(i * threads)), chunks);
      chunkCoords.push_back({row, arith::MulIOp::create(b, chunk, t.index(8))});
    }
  }
  // Source column of a chunk at buffer column `col`.
  auto sourceCol = [&](Value col) -> Value {
    return firstCol ? arith::AddIOp::create(b, firstCol, col).getResult() : col;
  };
  auto bufferIndices = [&](Value row, Value col) -> SmallVector<Value, 3> {
    if (swizzled)
      col = arith::XOrIOp::create(b, col, rowBlockSwizzle(t, row));
    if (stage)
      return {stage, row, col};
    return {row, col};
  };
  Value sourceRows = memref::DimOp::create(b, source, 2);
  OpBuilder::InsertionGuard guard(b);
  if (enabled) {
    auto ifEnabled = scf::IfOp::create(b, enabled, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifEnabled.thenBlock());
  }
  if (rowOrder) {
    // Gathered rows: each chunk's source row comes from the order (read
    // once per row of the thread's chunks), rows past the end read no
    // bytes.
    llvm::DenseMap<Value, Value> originalRows;
    for (auto [r, col] : chunkCoords) {
      Value row = arith::AddIOp::create(b, firstRow, r);
      Value &original = originalRows[r];
      if (!original)
        original = buildOriginalRow(b, b.getLoc(), rowOrder, batch, head, row);
      Value count = arith::SelectOp::create(
          b,
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, sourceRows),
          t.index(8), t.index(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, buffer, bufferIndices(r, col), source,
          ValueRange{batch, head, original, sourceCol(col)}, b.getIndexAttr(8),
          count, b.getUnitAttr());
    }
    return;
  }
  Value whole = arith::CmpIOp::create(
      b, arith::CmpIPredicate::ule,
      arith::AddIOp::create(b, firstRow, t.index(rows)), sourceRows);
  auto ifWhole = scf::IfOp::create(b, whole, /*withElseRegion=*/true);
  b.setInsertionPointToStart(ifWhole.thenBlock());
  if (wholeRows) {
    // The thread's chunks as one strided view of the source: chunk i is
    // element [i, 0] of rows firstRow + row0 + i · threads / chunks, so
    // its address is the view's base plus a constant.
    SmallVector<OpFoldResult> offsets{
        batch, head, arith::AddIOp::create(b, firstRow, row0).getResult(),
        sourceCol(col0)};
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(copies), b.getIndexAttr(8)};
    SmallVector<OpFoldResult> strides{b.getIndexAttr(threads / chunks),
                                      b.getIndexAttr(1)};
    sizes.insert(sizes.begin(), 2, b.getIndexAttr(1));
    strides.insert(strides.begin(), 2, b.getIndexAttr(1));
    auto sourceType = cast<MemRefType>(source.getType());
    auto chunkType = memref::SubViewOp::inferRankReducedResultType(
        {copies, 8}, sourceType, offsets, sizes, strides);
    Value chunkView = memref::SubViewOp::create(b, chunkType, source, offsets,
                                                sizes, strides);
    for (auto [i, coords] : llvm::enumerate(chunkCoords))
      nvgpu::DeviceAsyncCopyOp::create(
          b, buffer, bufferIndices(coords.first, coords.second), chunkView,
          ValueRange{t.index(i), t.index(0)}, b.getIndexAttr(8),
          /*srcElements=*/Value(), b.getUnitAttr());
  } else {
    for (auto [r, col] : chunkCoords)
      nvgpu::DeviceAsyncCopyOp::create(
          b, buffer, bufferIndices(r, col), source,
          ValueRange{batch, head, arith::AddIOp::create(b, firstRow, r),
                     sourceCol(col)},
          b.getIndexAttr(8), /*srcElements=*/Value(), b.getUnitAttr());
  }
  b.setInsertionPointToStart(ifWhole.elseBlock());
  Value lastRow = arith::SubIOp::create(b, sourceRows, t.index(1));
  for (auto [r, col] : chunkCoords) {
    Value row = arith::AddIOp::create(b, firstRow, r);
    Value count = arith::SelectOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, sourceRows),
        t.index(8), t.index(0));
    nvgpu::DeviceAsyncCopyOp::create(
        b, buffer, bufferIndices(r, col), source,
        ValueRange{batch, head, arith::MinSIOp::create(b, row, lastRow),
                   sourceCol(col)},
        b.getIndexAttr(8), count, b.getUnitAttr());
  }
}
