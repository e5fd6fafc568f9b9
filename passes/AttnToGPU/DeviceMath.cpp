//===- DeviceMath.cpp - math ops in kernels, without libdevice --*- C++ -*-===//
//
// See DeviceMath.h.
//
//===----------------------------------------------------------------------===//

#include "DeviceMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;

LogicalResult attn::lowerDeviceMath(gpu::LaunchOp launch) {
  SmallVector<Operation *> mathOps;
  launch.getBody().walk([&](Operation *op) {
    if (isa_and_nonnull<math::MathDialect>(op->getDialect()))
      mathOps.push_back(op);
  });
  for (Operation *op : mathOps) {
    ImplicitLocOpBuilder b(op->getLoc(), op);
    Value replacement;
    if (auto fma = dyn_cast<math::FmaOp>(op))
      replacement = LLVM::FMAOp::create(b, fma.getA(), fma.getB(), fma.getC());
    else if (isa<math::FloorOp, math::CeilOp>(op)) {
      // From trunc (the NVVM lowering takes llvm.floor and llvm.ceil for
      // libdevice too): floor = t - (t > x), ceil = t + (t < x), exact,
      // and NaN and infinities pass through.
      Value x = op->getOperand(0);
      Value t = LLVM::FTruncOp::create(b, x);
      bool isFloor = isa<math::FloorOp>(op);
      Value off = arith::CmpFOp::create(
          b, isFloor ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT, t,
          x);
      Value one =
          arith::ConstantOp::create(b, b.getFloatAttr(x.getType(), 1.0));
      Value moved = isFloor ? Value(arith::SubFOp::create(b, t, one))
                            : Value(arith::AddFOp::create(b, t, one));
      replacement = arith::SelectOp::create(b, off, moved, t);
    } else if (auto trunc = dyn_cast<math::TruncOp>(op))
      replacement = LLVM::FTruncOp::create(b, trunc.getOperand());
    else if (auto log = dyn_cast<math::LogOp>(op); log && log.getType().isF32())
      replacement = arith::MulFOp::create(
          b,
          LLVM::CallIntrinsicOp::create(
              b, b.getF32Type(), b.getStringAttr("llvm.nvvm.lg2.approx.f"),
              ValueRange{log.getOperand()})
              .getResult(0),
          arith::ConstantOp::create(b, b.getF32FloatAttr(llvm::numbers::ln2f)));
    else if (auto exp = dyn_cast<math::ExpOp>(op); exp && exp.getType().isF32())
      // e^x = 2^(x log2(e)); math.exp2 becomes ex2.approx.f32.
      replacement = math::Exp2Op::create(
          b, arith::MulFOp::create(
                 b, exp.getOperand(),
                 arith::ConstantOp::create(
                     b, b.getF32FloatAttr(llvm::numbers::log2ef))));
    // Integer ops and the ones upstream lowers to NVPTX instructions.
    else if (isa<math::CtPopOp, math::CountTrailingZerosOp,
                 math::CountLeadingZerosOp, math::AbsFOp, math::AbsIOp,
                 math::Exp2Op, math::SqrtOp, math::CopySignOp>(op))
      continue;
    else
      return op->emitOpError()
             << "attn-to-gpu: no libdevice-free lowering for this math op in "
                "a kernel";
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }
  return success();
}
