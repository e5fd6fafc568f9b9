//===- TileLists.cpp - the GPU kernel of attn.tile_lists --------*- C++ -*-===//
//
// See TileLists.h for the algorithm.
//
//===----------------------------------------------------------------------===//

#include "TileLists.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace attn;

/// Lanes of a warp: the kv-tiles one pass classifies at a time.
static constexpr int64_t kWarpSize = 32;

FailureOr<gpu::LaunchOp> attn::convertTileLists(TileListsOp op,
                                                LaunchFacts &facts) {
  if (failed(facts.describeBlockMask(op)))
    return failure();
  ImplicitLocOpBuilder b(op.getLoc(), op);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value mask = op.getBlockMask();
  Value queryTiles =
      arith::CeilDivUIOp::create(b, op.getQueryLen(), index(op.getBlockQ()));
  Value listHeads = op.isPerHead() ? Value(memref::DimOp::create(b, mask, 1))
                                   : index(1);
  Value listBatches = op.isPerHead() ? Value(memref::DimOp::create(b, mask, 0))
                                     : index(1);
  Value one = index(1);
  auto launch = gpu::LaunchOp::create(b, queryTiles, listHeads, listBatches,
                                      index(kWarpSize), one, one);
  std::string kernelName = facts.nextKernelName();
  launch.setModuleAttr(FlatSymbolRefAttr::get(
      b.getContext(), b.getStringAttr(facts.moduleName())));
  launch.setFunctionAttr(
      FlatSymbolRefAttr::get(b.getContext(), b.getStringAttr(kernelName)));
  if (failed(facts.addLaunch(op.getLoc(), kernelName,
                             {queryTiles, listHeads, listBatches}, kWarpSize,
                             /*sharedBytes=*/0)))
    return failure();

  b.setInsertionPointToStart(&launch.getBody().front());
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  Value listBatch = blockIds.z, listHead = blockIds.y, queryTile = blockIds.x;
  Value lane = launch.getThreadIds().x;
  Type i32 = b.getI32Type();
  Value lane32 = arith::IndexCastOp::create(b, i32, lane);
  Value lanesBelow = arith::SubIOp::create(
      b,
      arith::ShLIOp::create(b, arith::ConstantIntOp::create(b, i32, 1), lane32),
      arith::ConstantIntOp::create(b, i32, 1));
  Value keyTiles =
      arith::CeilDivUIOp::create(b, op.getKeyLen(), index(op.getBlockK()));
  Value falseValue = arith::ConstantIntOp::create(b, 0, 1);
  Value trueValue = arith::ConstantIntOp::create(b, 1, 1);
  Value allLanes = arith::ConstantIntOp::create(b, i32, -1);

  // Appends the kv-tiles of one class from `start`; returns the new end
  // (uniform across the warp).
  auto append = [&](Value start, bool full) -> Value {
    auto loop = scf::ForOp::create(b, index(0), keyTiles, index(kWarpSize),
                                   ValueRange{start});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value keyTile = arith::AddIOp::create(b, loop.getInductionVar(), lane);
    Value inRange =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, keyTile, keyTiles);
    auto ifInRange = scf::IfOp::create(b, TypeRange{b.getI1Type()}, inRange,
                                       /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifInRange.thenBlock());
      TileListsOp::TileClass tileClass = op.buildTileClass(
          b, b.getLoc(), listBatch, listHead, queryTile, keyTile);
      Value take = full ? tileClass.full
                        : arith::AndIOp::create(
                              b, tileClass.visited,
                              arith::XOrIOp::create(b, tileClass.full,
                                                    trueValue));
      scf::YieldOp::create(b, take);
      b.setInsertionPointToStart(ifInRange.elseBlock());
      scf::YieldOp::create(b, falseValue);
    }
    Value take = ifInRange.getResult(0);
    Value ballot = NVVM::VoteSyncOp::create(b, i32, allLanes, take,
                                            NVVM::VoteSyncKind::ballot);
    Value rank = math::CtPopOp::create(
        b, arith::AndIOp::create(b, ballot, lanesBelow));
    Value base = loop.getRegionIterArg(0);
    auto ifTake = scf::IfOp::create(b, take, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifTake.thenBlock());
      Value position = arith::AddIOp::create(
          b, base, arith::IndexCastOp::create(b, b.getIndexType(), rank));
      memref::StoreOp::create(
          b, arith::IndexCastOp::create(b, i32, keyTile), op.getTileIndices(),
          ValueRange{listBatch, listHead, queryTile, position});
    }
    Value taken = arith::IndexCastOp::create(b, b.getIndexType(),
                                             math::CtPopOp::create(b, ballot));
    scf::YieldOp::create(b, ValueRange{arith::AddIOp::create(b, base, taken)});
    return loop.getResult(0);
  };
  Value fullEnd = append(index(0), /*full=*/true);
  Value partialEnd = append(fullEnd, /*full=*/false);
  Value isLeader =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, index(0));
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
