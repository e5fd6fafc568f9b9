//===- SharedMemory.h - tile buffers in dynamic shared memory ---*- C++ -*-===//
//
// Every tile a kernel keeps in shared memory is a buffer in the block's one
// dynamic shared-memory allocation: a memref.view of gpu.dynamic_shared_memory
// at a 16-byte aligned offset, its rows padded (rowPadBytes) and viewed
// through a subview with the tile's shape. A SharedMemoryLayout collects the
// buffers of one launch, sums their bytes (checked against the chip's limit
// and carried by the launch) and materializes the views.
//
// The cp.async copies into such buffers (issueTileCopy) are here too.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_SHAREDMEMORY_H
#define ATTN_PASSES_ATTNTOGPU_SHAREDMEMORY_H

#include "KernelBuilder.h"

namespace attn {

/// Byte alignment of every tile buffer inside the block's dynamic shared
/// memory (16-byte cp.async and ldmatrix rows).
constexpr int64_t kSharedBufferAlignment = 16;

/// Padding added to each tile row in shared memory: 16 bytes for 16-bit
/// tiles (rows stay 16-byte aligned, and the fragment reads of rows g and
/// columns 2t, g = 0..7, t = 0..3, fall on 32 distinct banks), one word for
/// f32 tiles (row-wise and column-wise walks hit distinct banks).
inline int64_t rowPadBytes(int64_t elementBytes) {
  return elementBytes == 2 ? 16 : 4;
}

/// The shared-memory type of a tile: rows padded by rowPadBytes, with
/// `stages` copies of the tile along a leading dimension when stages > 0.
MemRefType paddedType(MemRefType tile, int64_t stages = 0);

/// The 2-D `tileType`-shaped view at the origin of `buffer` (padded rows),
/// of stage `stage` when `buffer` is a staged 3-D buffer.
Value tileView(ImplicitLocOpBuilder &b, Value buffer, MemRefType tileType,
               Value stage);

/// The shared-memory buffers of one launch.
class SharedMemoryLayout {
public:
  /// Adds a buffer of padded type `bufferType` (paddedType); returns its
  /// index.
  unsigned add(MemRefType bufferType);
  /// The bytes of all buffers, each at an aligned offset.
  int64_t getBytes() const { return bytes; }
  /// Builds the workgroup buffers (memref.view at their offsets) at the
  /// insertion point of `b`, in the order they were added.
  SmallVector<Value> materialize(ImplicitLocOpBuilder &b) const;

private:
  SmallVector<MemRefType> types;
  SmallVector<int64_t> offsets;
  int64_t bytes = 0;
};

/// Issues the cp.async copies of rows [firstRow, firstRow + rows) of
/// source[batch, head] into rows [0, rows) of `buffer` (of stage `stage` of
/// a staged 3-D buffer when `stage` is given), unless `enabled` (when given)
/// is false, at the insertion point of `kernel.b`. Each of the block's
/// `threads` threads copies `rows · cols / 8 / threads` 16-byte chunks.
/// With a token order `rowOrder` ([B, H, N] i32) the rows are gathered:
/// buffer row r is source row rowOrder[batch, head, firstRow + r].
/// With `swizzled` (cols >= 64) chunk c of buffer row r lands at
/// column c ^ rowBlockSwizzle(r) (see there). With `firstCol` the copy
/// reads source columns [firstCol, firstCol + cols) (a multiple of 8).
void issueTileCopy(KernelBuilder &kernel, int64_t threads, Value source,
                   Value batch, Value head, Value firstRow, Value buffer,
                   Value stage, int64_t rows, int64_t cols, Value enabled,
                   Value rowOrder = Value(), bool swizzled = false,
                   Value firstCol = Value());

/// The column XOR (in elements, a multiple of 16) of a swizzled tile's
/// row `row`: 16 · reverse2((row / 8) mod 4), i.e. 16-byte chunk c of the
/// row lives at chunk c ^ {0, 4, 2, 6} for the row blocks 0 .. 3 of every
/// 32 rows. With the padded row (rowPadBytes: one chunk) the bank group of
/// chunk c of row r is (r + c') mod 8; an ldmatrix whose 8 lanes name rows
/// {0, 1, 8, 9, 16, 17, 24, 25} (+ a constant below 8, the N:M prune's key
/// layout) or the two runs {0 .. 3, 8 .. 11} (its sparse P V) then meets 8
/// distinct bank groups, where the plain layout meets 2 or 4. Needs rows
/// of at least 8 chunks (64 elements of 16 bits).
Value rowBlockSwizzle(KernelBuilder &kernel, Value row);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_SHAREDMEMORY_H
