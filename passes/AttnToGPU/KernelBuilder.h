//===- KernelBuilder.h - building blocks of GPU kernel bodies ---*- C++ -*-===//
//
// KernelBuilder emits the pieces every GPU lowering of attn shares, at the
// insertion point of one ImplicitLocOpBuilder inside a gpu.launch body:
// constants and conversions, loops distributed over the block's threads,
// the special-function exp2, an optimisation barrier for index values, and
// the sm_80 tensor-core fragments (mma.sync m16n8k16 and ldmatrix). The
// per-op lowering (PerOpLowering.h) and the fused-step emitters
// (Sm80/FusedForward.h) build on it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_KERNELBUILDER_H
#define ATTN_PASSES_ATTNTOGPU_KERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace attn {

// The MLIR names this pass family's private headers use unqualified.
using mlir::ArrayAttr;
using mlir::ArrayRef;
using mlir::cast;
using mlir::dyn_cast;
using mlir::isa;
using mlir::DenseElementsAttr;
using mlir::function_ref;
using mlir::ImplicitLocOpBuilder;
using mlir::IRMapping;
using mlir::MemRefType;
using mlir::OpBuilder;
using mlir::Operation;
using mlir::SmallVector;
using mlir::StringRef;
using mlir::Type;
using mlir::Value;
using mlir::ValueRange;
using mlir::VectorType;
namespace arith = mlir::arith;
namespace gpu = mlir::gpu;
namespace LLVM = mlir::LLVM;
namespace NVVM = mlir::NVVM;
namespace nvgpu = mlir::nvgpu;
namespace scf = mlir::scf;
namespace vector = mlir::vector;

/// Emits the shared pieces of a kernel body (see the file comment). Its
/// builder `b` sits inside the gpu.launch; `threadId` and `numThreads` are
/// the block's x dimension.
class KernelBuilder {
public:
  KernelBuilder(mlir::ImplicitLocOpBuilder &b, Value threadId,
                Value numThreads)
      : b(b), threadId(threadId), numThreads(numThreads) {}

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  Value f32(float value) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  }
  Value toF32(Value value) {
    if (value.getType().isF32())
      return value;
    return arith::ExtFOp::create(b, b.getF32Type(), value);
  }
  Value fromF32(Value value, Type type) {
    if (type.isF32())
      return value;
    return arith::TruncFOp::create(b, type, value);
  }

  /// Emits `for (e = tid; e < count; e += nthreads) body(e)` and a barrier.
  void forEachDistributed(int64_t count, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, threadId, index(count), numThreads);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      body(loop.getInductionVar());
    }
    gpu::BarrierOp::create(b);
  }

  /// Emits a sequential loop `for (i = 0; i < count; ++i)` carrying one f32
  /// value; returns the final value.
  Value reduce(int64_t count, Value init,
               function_ref<Value(Value, Value)> step) {
    auto loop =
        scf::ForOp::create(b, index(0), index(count), index(1), ValueRange{init});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value next =
          step(loop.getInductionVar(), loop.getRegionIterArgs().front());
      scf::YieldOp::create(b, next);
    }
    return loop.getResult(0);
  }

  /// Emits a sequential loop over `count` with no carried value.
  void forEachSequential(int64_t count, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, index(0), index(count), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  }

  /// This thread's lane in its warp and its warp in the block.
  Value lane() { return arith::RemUIOp::create(b, threadId, index(32)); }
  Value warp() { return arith::DivUIOp::create(b, threadId, index(32)); }

  /// Sums the f32 `value` over the lanes of the warp (xor butterfly):
  /// every lane gets the total, added in the same order on every lane.
  Value warpSum(Value value) {
    for (int32_t offset = 16; offset > 0; offset /= 2)
      value = arith::AddFOp::create(
          b, value,
          gpu::ShuffleOp::create(b, value, offset, 32, gpu::ShuffleMode::XOR)
              .getShuffleResult());
    return value;
  }

  /// A block-wide count or prefix sum in thread order.
  struct FlagCount {
    Value before; ///< i32: the sum over threads below this one.
    Value total;  ///< i32: the sum over the block.
  };
  /// Counts `flag` over the `warps` (<= 32) warps of the block: each warp
  /// counts its lanes (ballot, popc), then combineWarps. Every thread of
  /// the block must reach it; two barriers, so that the next call may
  /// reuse `warpCounts`.
  FlagCount countFlags(Value flag, Value warpCounts, int64_t warps) {
    Type i32 = b.getI32Type();
    Value ballot = NVVM::VoteSyncOp::create(b, i32, i32Constant(-1), flag,
                                            NVVM::VoteSyncKind::ballot);
    Value rank = mlir::math::CtPopOp::create(
        b, arith::AndIOp::create(b, ballot, lanesBelowMask()));
    return combineWarps(rank, mlir::math::CtPopOp::create(b, ballot),
                        warpCounts, warps);
  }

  /// The exclusive prefix sum of the i32 `value` over the block's threads
  /// in thread order, and the block's total: an inclusive scan across
  /// each warp's lanes (shuffles up), then combineWarps. Same contract as
  /// countFlags.
  FlagCount scanBlock(Value value, Value warpCounts, int64_t warps) {
    Value inclusive = scanLanes(value);
    Value warpTotal =
        gpu::ShuffleOp::create(b, inclusive, 31, 32, gpu::ShuffleMode::IDX)
            .getShuffleResult();
    return combineWarps(arith::SubIOp::create(b, inclusive, value), warpTotal,
                        warpCounts, warps);
  }

  /// Turns a lane's warp-local exclusive sum `rankInWarp` and its warp's
  /// total `warpTotal` (both i32) into block-wide ones: the warps' totals
  /// meet in `warpCounts` (shared i32, one slot per warp), and every warp
  /// scans them with shuffles (lane l holding warp l's total). Two
  /// barriers.
  FlagCount combineWarps(Value rankInWarp, Value warpTotal, Value warpCounts,
                         int64_t warps) {
    assert(warps <= 32 && "one lane per warp in the scan");
    Type i32 = b.getI32Type();
    Value laneId = lane(), warpId = warp();
    auto ifLane0 = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, laneId, index(0)),
        /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifLane0.thenBlock());
      mlir::memref::StoreOp::create(b, warpTotal, warpCounts, warpId);
    }
    gpu::BarrierOp::create(b);
    // Lane l: warp l's total (0 past the block's warps), then an inclusive
    // scan across the lanes.
    Value count = arith::SelectOp::create(
        b,
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, laneId,
                              index(warps)),
        mlir::memref::LoadOp::create(
            b, warpCounts,
            arith::MinUIOp::create(b, laneId, index(warps - 1)).getResult()),
        i32Constant(0));
    Value inclusive = scanLanes(count);
    Value exclusive = arith::SubIOp::create(b, inclusive, count);
    Value before = arith::AddIOp::create(
        b, rankInWarp,
        gpu::ShuffleOp::create(b, exclusive,
                               arith::IndexCastOp::create(b, i32, warpId),
                               i32Constant(32), gpu::ShuffleMode::IDX)
            .getShuffleResult());
    Value total =
        gpu::ShuffleOp::create(b, inclusive, 31, 32, gpu::ShuffleMode::IDX)
            .getShuffleResult();
    gpu::BarrierOp::create(b);
    return {before, total};
  }

  /// The inclusive prefix sum of the i32 `value` across the warp's lanes
  /// (five shuffles up).
  Value scanLanes(Value value) {
    Value inclusive = value;
    for (int32_t offset = 1; offset < 32; offset *= 2) {
      auto shuffle = gpu::ShuffleOp::create(b, inclusive, offset, 32,
                                            gpu::ShuffleMode::UP);
      inclusive = arith::AddIOp::create(
          b, inclusive,
          arith::SelectOp::create(b, shuffle.getValid(),
                                  shuffle.getShuffleResult(), i32Constant(0)));
    }
    return inclusive;
  }

  /// (1 << lane) - 1 as i32: the lanes below this one.
  Value lanesBelowMask() {
    Type i32 = b.getI32Type();
    return arith::SubIOp::create(
        b,
        arith::ShLIOp::create(b, i32Constant(1),
                              arith::IndexCastOp::create(b, i32, lane())),
        i32Constant(1));
  }

  Value i32Constant(int64_t value) {
    return arith::ConstantIntOp::create(b, b.getI32Type(), value);
  }

  /// Splits a linear element index of a [rows, cols] tile.
  std::pair<Value, Value> split(Value linear, int64_t cols) {
    Value colsValue = index(cols);
    return {arith::DivUIOp::create(b, linear, colsValue),
            arith::RemUIOp::create(b, linear, colsValue)};
  }

  /// `value` (an index or i32) through an identity the optimizer can
  /// neither see through nor move: a `mov` in inline PTX with side effects.
  /// Two uses:
  ///  - a loop-invariant shared-memory row that many fragment reads of a
  ///    loop body offset by constants: LLVM's LICM would hoist each
  ///    (row + constant) address out of the loop into a register of its
  ///    own, live across the whole body, since the NVPTX backend folds a
  ///    constant into an address only within one block. Computed in the
  ///    body from this copy, the reads share one register and carry their
  ///    constants as immediates;
  ///  - an i32 narrowed from a clamped index: without it LLVM proves the
  ///    clamp redundant for the compares that use it and compares the
  ///    64-bit value (two instructions each on the GPU).
  Value opaque(Value value) {
    bool isIndex = value.getType().isIndex();
    Type type = isIndex ? b.getI64Type() : value.getType();
    StringRef move = type.isInteger(64) ? "mov.b64 $0, $1;" : "mov.b32 $0, $1;";
    StringRef constraints = type.isInteger(64) ? "=l,l" : "=r,r";
    Value operand =
        isIndex ? arith::IndexCastUIOp::create(b, type, value) : value;
    Value copy =
        LLVM::InlineAsmOp::create(
            b, type, ValueRange{operand}, move, constraints,
            /*has_side_effects=*/true, /*is_align_stack=*/false,
            LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
            .getRes();
    return isIndex ? arith::IndexCastUIOp::create(b, b.getIndexType(), copy)
                   : copy;
  }

  /// 2^x by the special-function unit with subnormal results flushed to
  /// zero (`ex2.approx.ftz.f32`). `math.exp2` becomes the non-ftz form,
  /// which ptxas wraps in a compare and two multiplies that rescale
  /// subnormal results; softmax probabilities below 2^-126 of the row max
  /// do not matter, and 2^-inf is still 0.
  Value exp2FlushToZero(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, b.getF32Type(), b.getStringAttr("llvm.nvvm.ex2.approx.ftz"),
               ValueRange{x})
        .getResult(0);
  }

  static ArrayRef<int64_t> shapeOf(Value tile) {
    return cast<MemRefType>(tile.getType()).getShape();
  }


  //===--------------------------------------------------------------------===//
  // Tensor cores: mma.sync m16n8k16 with f32 accumulation.
  //
  // Fragment layout (PTX ISA, mma.m16n8k16 for 16-bit floats), with
  // g = lane / 4 and t = lane % 4:
  //   A (16x16, row): registers hold the pairs (g, 2t), (g + 8, 2t),
  //                   (g, 2t + 8), (g + 8, 2t + 8) and the next column.
  //   B (16x8, col):  (k = 2t, n = g) and (k = 2t + 8, n = g), with k + 1.
  //   C (16x8):       (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).
  //===--------------------------------------------------------------------===//

  /// Packs two 16-bit floats into one mma operand register: an i32 for
  /// bf16, a vector<2xf16> for f16 (low half = first element).
  Value packPair(Value low, Value high) {
    Type i16 = b.getI16Type(), i32 = b.getI32Type();
    auto widen = [&](Value v) {
      return arith::ExtUIOp::create(b, i32,
                                    arith::BitcastOp::create(b, i16, v));
    };
    Value packed = arith::OrIOp::create(
        b, widen(low),
        arith::ShLIOp::create(b, widen(high),
                              arith::ConstantIntOp::create(b, i32, 16)));
    if (low.getType().isBF16())
      return packed;
    return LLVM::BitcastOp::create(
        b, VectorType::get({2}, b.getF16Type()), packed);
  }

  /// Rounds two f32 values to the 16-bit `type` and packs them as one mma
  /// operand register (low half = `low`): one cvt.rn.{bf16,f16}x2.f32.
  Value roundPair(Value low, Value high, Type type) {
    Value pair = vector::FromElementsOp::create(
        b, VectorType::get({2}, b.getF32Type()), ValueRange{low, high});
    return pairOperand(
        arith::TruncFOp::create(b, VectorType::get({2}, type), pair));
  }

  /// The mma operand register holding a vector<2xT> pair: the pair itself
  /// for f16, its bits as an i32 for bf16.
  Value pairOperand(Value pair) {
    if (cast<VectorType>(pair.getType()).getElementType().isF16())
      return pair;
    Value word = vector::BitCastOp::create(
        b, VectorType::get({1}, b.getI32Type()), pair);
    return vector::ExtractOp::create(b, word, ArrayRef<int64_t>{0});
  }

  /// Loads tile[row, col] and tile[row, col + 1] (col even, rows 4-byte
  /// aligned) as one operand register with one 32-bit load.
  Value loadPair(Value tile, Value row, Value col) {
    Type element = cast<MemRefType>(tile.getType()).getElementType();
    Value pair = vector::LoadOp::create(
        b, VectorType::get({2}, element), tile, ValueRange{row, col},
        /*nontemporal=*/false, llvm::MaybeAlign(4));
    return pairOperand(pair);
  }

  /// ldmatrix.x4: four 8x8 matrices of 16-bit elements, lane l giving the
  /// address of row l % 8 of matrix l / 8 (`row`, `col` are this lane's).
  /// Returns the four operand registers, matrix i in register i; with
  /// `transpose` each matrix is transposed on the way.
  SmallVector<Value> loadMatrices(Value tile, Value row, Value col,
                                  bool transpose) {
    Type element = cast<MemRefType>(tile.getType()).getElementType();
    Value matrices = nvgpu::LdMatrixOp::create(
        b, VectorType::get({4, 2}, element), tile, ValueRange{row, col},
        b.getBoolAttr(transpose), b.getI32IntegerAttr(4));
    SmallVector<Value> registers;
    for (int64_t i = 0; i < 4; ++i)
      registers.push_back(pairOperand(
          vector::ExtractOp::create(b, matrices, ArrayRef<int64_t>{i})));
    return registers;
  }

  /// Lane coordinates: warp index, g = lane / 4, t = lane % 4, 2t.
  struct LaneCoords {
    Value lane, warp, numWarps, g, twoT;
  };
  LaneCoords laneCoords() {
    Value warpSize = index(32);
    Value lane = arith::RemUIOp::create(b, threadId, warpSize);
    LaneCoords coords;
    coords.lane = lane;
    coords.warp = arith::DivUIOp::create(b, threadId, warpSize);
    coords.numWarps = arith::DivUIOp::create(b, numThreads, warpSize);
    coords.g = arith::DivUIOp::create(b, lane, index(4));
    coords.twoT = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, lane, index(4)), index(2));
    return coords;
  }

  /// Emits one sparse mma.sp.sync m16n8k32 (f32 accumulation) and returns
  /// the four f32 results. A is 16x32 with two of every four consecutive
  /// k kept, given compressed in the m16n8k16 A layout (four registers:
  /// compressed columns 2t, 2t + 1 of rows g and g + 8, then columns
  /// 2t + 8, 2t + 9); B is 32x8 (four registers: k = 2t, 2t + 1 plus 0, 8,
  /// 16, 24; n = g); `metadata` holds the kept positions, 4 bits per group
  /// of four (first index | second index << 2), in the lanes the sparsity
  /// selector 0 names (see Sm80/FusedForward.cpp, buildSparseMetadata);
  /// `ordered` picks the `::ordered_metadata` form (indices in order).
  SmallVector<Value> mmaSparse(ArrayRef<Value> a, ArrayRef<Value> bOperands,
                               ArrayRef<Value> c, Value metadata, bool isBF16,
                               bool ordered) {
    Type f32 = b.getF32Type();
    Type resultType =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes type = isBF16 ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    auto op = NVVM::MmaSpOp::create(b, resultType, a, bOperands, c, metadata,
                                    i32Constant(0),
                                    ArrayRef<int64_t>{16, 8, 32}, std::nullopt,
                                    std::array<NVVM::MMATypes, 2>{type, type});
    if (ordered)
      op.setOrderedMetadata(true);
    SmallVector<Value> results;
    for (int64_t i = 0; i < 4; ++i)
      results.push_back(LLVM::ExtractValueOp::create(b, op.getRes(), i));
    return results;
  }

  /// Emits one mma.sync m16n8k16 and returns the four f32 results.
  SmallVector<Value> mma(ArrayRef<Value> a, ArrayRef<Value> bOperands,
                         ArrayRef<Value> c, bool isBF16) {
    Type f32 = b.getF32Type();
    Type resultType =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes type = isBF16 ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    auto op = NVVM::MmaOp::create(
        b, resultType, a, bOperands, c, ArrayRef<int64_t>{16, 8, 16},
        std::nullopt, std::nullopt,
        std::array<NVVM::MMATypes, 2>{type, type},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    SmallVector<Value> results;
    for (int64_t i = 0; i < 4; ++i)
      results.push_back(LLVM::ExtractValueOp::create(b, op.getRes(), i));
    return results;
  }

  mlir::ImplicitLocOpBuilder &b;
  Value threadId, numThreads;
};

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_KERNELBUILDER_H
