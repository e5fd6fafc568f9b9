//===- TileLists.cpp - the GPU kernel of attn.tile_lists --------*- C++ -*-===//
//
// See TileLists.h for the algorithm.
//
//===----------------------------------------------------------------------===//

#include "TileLists.h"
#include "KernelBuilder.h"
#include "SharedMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace attn;

/// Warps of a block: a block classifies kWarps · kWarpSize (lanes of a
/// warp, KernelBuilder.h) kv-tiles of its q-tile per step.
static constexpr int64_t kWarps = 8;

FailureOr<gpu::LaunchOp> attn::convertTileLists(TileListsOp op,
                                                LaunchFacts &facts) {
  if (failed(facts.describeBlockMask(op)))
    return failure();
  ImplicitLocOpBuilder b(op.getLoc(), op);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Type i32 = b.getI32Type();
  Value mask = op.getBlockMask();
  Value queryTiles =
      arith::CeilDivUIOp::create(b, op.getQueryLen(), index(op.getBlockQ()));
  Value listHeads =
      op.isPerHead() ? Value(memref::DimOp::create(b, mask, 1)) : index(1);
  Value listBatches =
      op.isPerHead() ? Value(memref::DimOp::create(b, mask, 0)) : index(1);
  // Shared memory: the number of tiles each warp takes in one step.
  SharedMemoryLayout layout;
  layout.add(paddedType(MemRefType::get({kWarps}, i32)));
  int64_t threads = kWarps * kWarpSize;
  FailureOr<gpu::LaunchOp> created = facts.createLaunch(
      b, {queryTiles, listHeads, listBatches}, threads, layout.getBytes());
  if (failed(created))
    return failure();
  gpu::LaunchOp launch = *created;

  b.setInsertionPointToStart(&launch.getBody().front());
  Value taken = layout.materialize(b).front();
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  Value listBatch = blockIds.z, listHead = blockIds.y, queryTile = blockIds.x;
  Value thread = launch.getThreadIds().x;
  KernelBuilder kernel(b, thread, index(threads));
  Value keyTiles =
      arith::CeilDivUIOp::create(b, op.getKeyLen(), index(op.getBlockK()));
  Value falseValue = arith::ConstantIntOp::create(b, 0, 1);
  Value trueValue = arith::ConstantIntOp::create(b, 1, 1);
  // Appends the kv-tiles of one class from `start`; returns the new end
  // (uniform across the block). Per step: each thread classifies one tile,
  // the block counts the takers (KernelBuilder::countFlags), and a taker
  // writes at start + (takers of earlier threads).
  auto append = [&](Value start, bool full) -> Value {
    auto loop = scf::ForOp::create(b, index(0), keyTiles, index(threads),
                                   ValueRange{start});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value keyTile = arith::AddIOp::create(b, loop.getInductionVar(), thread);
    Value inRange =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, keyTile, keyTiles);
    auto ifInRange = scf::IfOp::create(b, TypeRange{b.getI1Type()}, inRange,
                                       /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifInRange.thenBlock());
      TileListsOp::TileClass tileClass = op.buildTileClass(
          b, b.getLoc(), listBatch, listHead, queryTile, keyTile);
      Value take =
          full ? tileClass.full
               : arith::AndIOp::create(
                     b, tileClass.visited,
                     arith::XOrIOp::create(b, tileClass.full, trueValue));
      scf::YieldOp::create(b, take);
      b.setInsertionPointToStart(ifInRange.elseBlock());
      scf::YieldOp::create(b, falseValue);
    }
    Value take = ifInRange.getResult(0);
    KernelBuilder::FlagCount count = kernel.countFlags(take, taken, kWarps);
    Value base = loop.getRegionIterArg(0);
    auto ifTake = scf::IfOp::create(b, take, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifTake.thenBlock());
      Value position = arith::AddIOp::create(
          b, base,
          arith::IndexCastOp::create(b, b.getIndexType(), count.before));
      memref::StoreOp::create(
          b, arith::IndexCastOp::create(b, i32, keyTile), op.getTileIndices(),
          ValueRange{listBatch, listHead, queryTile, position});
    }
    scf::YieldOp::create(
        b, ValueRange{arith::AddIOp::create(
               b, base,
               arith::IndexCastOp::create(b, b.getIndexType(), count.total))});
    return loop.getResult(0);
  };
  Value fullEnd = append(index(0), /*full=*/true);
  Value partialEnd = append(fullEnd, /*full=*/false);
  Value isLeader =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, thread, index(0));
  auto ifLeader = scf::IfOp::create(b, isLeader, /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLeader.thenBlock());
    memref::StoreOp::create(
        b, arith::IndexCastOp::create(b, i32, fullEnd), op.getTileCounts(),
        ValueRange{listBatch, listHead, queryTile, index(0)});
    memref::StoreOp::create(
        b,
        arith::IndexCastOp::create(
            b, i32, arith::SubIOp::create(b, partialEnd, fullEnd)),
        op.getTileCounts(),
        ValueRange{listBatch, listHead, queryTile, index(1)});
  }
  gpu::TerminatorOp::create(b);
  op.erase();
  return launch;
}
