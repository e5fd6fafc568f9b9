//===- LinearScan.cpp - the kernel of attn.linear_scan ----------*- C++ -*-===//

#include "LinearScan.h"
#include "KernelBuilder.h"

#include "attn/Dialect/Attn/LinearDecay.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace attn;

FailureOr<gpu::LaunchOp> attn::convertLinearScan(LinearScanOp scan,
                                                 LaunchFacts &facts,
                                                 Value invalidCount) {
  constexpr int64_t threads = 128;
  ImplicitLocOpBuilder b(scan.getLoc(), scan);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value states = scan.getStates();
  auto statesType = cast<MemRefType>(states.getType());
  int64_t headDim = scan.getHeadDim(), valueDim = statesType.getDimSize(3);
  int64_t elements = headDim * valueDim;
  Value batch = memref::DimOp::create(b, states, 0);
  Value heads = memref::DimOp::create(b, states, 1);
  FailureOr<gpu::LaunchOp> created = facts.createLaunch(
      b, {index(llvm::divideCeil(elements, threads)), heads, batch}, threads,
      /*sharedBytes=*/0);
  if (failed(created))
    return failure();
  gpu::LaunchOp launch = *created;
  b.setInsertionPointToStart(&launch.getBody().front());
  gpu::KernelDim3 blockIds = launch.getBlockIds();
  Value thread = launch.getThreadIds().x;
  Value element = arith::AddIOp::create(
      b, arith::MulIOp::create(b, blockIds.x, index(threads)), thread);
  if (Value decay = scan.getDecay(); decay && invalidCount) {
    // buildIsValidDecayRate: finite and >= 0.
    Value first = arith::AndIOp::create(
        b,
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, element, index(0)),
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, blockIds.z,
                              index(0)));
    auto ifFirst = scf::IfOp::create(b, first, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifFirst.thenBlock());
    Value rate = memref::LoadOp::create(b, decay, ValueRange{blockIds.y});
    Value valid = buildIsValidDecayRate(b, b.getLoc(), rate);
    auto ifInvalid = scf::IfOp::create(
        b,
        arith::XOrIOp::create(
            b, valid, arith::ConstantIntOp::create(b, b.getI1Type(), 1)),
        /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifInvalid.thenBlock());
    memref::AtomicRMWOp::create(
        b, arith::AtomicRMWKind::addi,
        arith::ConstantIntOp::create(b, b.getI32Type(), 1), invalidCount,
        ValueRange{index(0)});
  }
  auto inRange =
      scf::IfOp::create(b,
                        arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                              element, index(elements)),
                        /*withElseRegion=*/false);
  b.setInsertionPointToStart(inRange.thenBlock());
  Value row = arith::DivUIOp::create(b, element, index(valueDim));
  Value col = arith::RemUIOp::create(b, element, index(valueDim));
  scan.buildElementScan(b, scan.getLoc(), blockIds.z, blockIds.y, row, col);
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b);
  scan.erase();
  return launch;
}
