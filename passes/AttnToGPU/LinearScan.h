//===- LinearScan.h - the kernel of attn.linear_scan ------------*- C++ -*-===//
//
// The middle phase of linear attention's two-phase scheme on the GPU: one
// thread per state element (b, h, d, e) turns the segments' state
// increments into their start states (LinearScanOp::buildElementScan, the
// CPU lowering's loop body), and the kernel checks the decay rates.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_LINEARSCAN_H
#define ATTN_PASSES_ATTNTOGPU_LINEARSCAN_H

#include "LaunchFacts.h"

namespace attn {

/// Replaces `scan` by its launch: grid (ceildiv(D·E, 128), H, B), 128
/// threads, a thread per state element. With decay rates and
/// `invalidCount` (a scratch i32 that the runtime zeroes before the
/// launches and checks after them) thread 0 of each block (0, h, 0) adds
/// 1 when the rate of head h is negative, NaN or infinite.
mlir::FailureOr<mlir::gpu::LaunchOp>
convertLinearScan(LinearScanOp scan, LaunchFacts &facts,
                  mlir::Value invalidCount);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_LINEARSCAN_H
