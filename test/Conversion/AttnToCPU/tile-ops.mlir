// RUN: attn-opt %s --split-input-file --attn-to-cpu | FileCheck %s

// Load of a 2-D tile: the existing rows clamp(N - row, 0, R) are copied, the
// rest is zero-filled with the tile's element type.

// CHECK-LABEL: func.func @load_2d(
// CHECK-SAME:    %[[SRC:[^:]+]]: memref<?x?x?x64xbf16>, %[[TILE:[^:]+]]: memref<32x64xbf16>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[ROW:[^:]+]]: index)
// CHECK-DAG:     %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C32:.+]] = arith.constant 32 : index
// CHECK-DAG:     %[[C64:.+]] = arith.constant 64 : index
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant 0.000000e+00 : bf16
// CHECK:         %[[N:.+]] = memref.dim %[[SRC]], %[[C2]]
// CHECK:         %[[REM:.+]] = arith.subi %[[N]], %[[ROW]] : index
// CHECK:         %[[MIN:.+]] = arith.minsi %[[REM]], %[[C32]] : index
// CHECK:         %[[VALID:.+]] = arith.maxsi %[[MIN]], %[[C0]] : index
// CHECK:         scf.for %[[R:.+]] = %[[C0]] to %[[VALID]] step %[[C1]] {
// CHECK:           scf.for %[[D:.+]] = %[[C0]] to %[[C64]] step %[[C1]] {
// CHECK:             %[[I:.+]] = arith.addi %[[ROW]], %[[R]] : index
// CHECK:             %[[X:.+]] = memref.load %[[SRC]][%[[B]], %[[H]], %[[I]], %[[D]]]
// CHECK:             memref.store %[[X]], %[[TILE]][%[[R]], %[[D]]]
// CHECK:         scf.for %[[R2:.+]] = %[[VALID]] to %[[C32]] step %[[C1]] {
// CHECK:           scf.for %[[D2:.+]] = %[[C0]] to %[[C64]] step %[[C1]] {
// CHECK:             memref.store %[[ZERO]], %[[TILE]][%[[R2]], %[[D2]]]
// CHECK-NOT:     attn.tile
// CHECK:         return
func.func @load_2d(%src: memref<?x?x?x64xbf16>, %tile: memref<32x64xbf16>,
                   %b: index, %h: index, %row: index) {
  attn.tile.load %src[%b, %h, %row] into %tile
      : memref<?x?x?x64xbf16>, memref<32x64xbf16>
  return
}

// -----

// Load of a 1-D tile from a 3-D buffer (row state such as an LSE input).

// CHECK-LABEL: func.func @load_1d(
// CHECK-SAME:    %[[SRC:[^:]+]]: memref<?x?x?xf32>, %[[TILE:[^:]+]]: memref<16xf32>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[ROW:[^:]+]]: index)
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK:         %[[VALID:.+]] = arith.maxsi
// CHECK:         scf.for %[[R:.+]] = %{{.+}} to %[[VALID]] step
// CHECK-NEXT:      %[[I:.+]] = arith.addi %[[ROW]], %[[R]] : index
// CHECK-NEXT:      %[[X:.+]] = memref.load %[[SRC]][%[[B]], %[[H]], %[[I]]] : memref<?x?x?xf32>
// CHECK-NEXT:      memref.store %[[X]], %[[TILE]][%[[R]]] : memref<16xf32>
// CHECK:         scf.for %[[R2:.+]] = %[[VALID]] to
// CHECK-NEXT:      memref.store %[[ZERO]], %[[TILE]][%[[R2]]]
func.func @load_1d(%src: memref<?x?x?xf32>, %tile: memref<16xf32>,
                   %b: index, %h: index, %row: index) {
  attn.tile.load %src[%b, %h, %row] into %tile
      : memref<?x?x?xf32>, memref<16xf32>
  return
}

// -----

// Store of an f32 accumulator into a bf16 output: only the existing rows are
// written, each element truncated.

// CHECK-LABEL: func.func @store_truncates(
// CHECK-SAME:    %[[TILE:[^:]+]]: memref<32x64xf32>, %[[DST:[^:]+]]: memref<?x?x?x64xbf16>, %[[B:[^:]+]]: index, %[[H:[^:]+]]: index, %[[ROW:[^:]+]]: index)
// CHECK-DAG:     %[[C2:.+]] = arith.constant 2 : index
// CHECK:         %[[N:.+]] = memref.dim %[[DST]], %[[C2]]
// CHECK:         %[[REM:.+]] = arith.subi %[[N]], %[[ROW]] : index
// CHECK:         %[[MIN:.+]] = arith.minsi %[[REM]], %{{.+}} : index
// CHECK:         %[[VALID:.+]] = arith.maxsi %[[MIN]], %{{.+}} : index
// CHECK:         scf.for %[[R:.+]] = %{{.+}} to %[[VALID]] step
// CHECK:           scf.for %[[D:.+]] = %{{.+}} to %{{.+}} step
// CHECK-NEXT:        %[[X:.+]] = memref.load %[[TILE]][%[[R]], %[[D]]] : memref<32x64xf32>
// CHECK-NEXT:        %[[T:.+]] = arith.truncf %[[X]] : f32 to bf16
// CHECK-NEXT:        %[[I:.+]] = arith.addi %[[ROW]], %[[R]] : index
// CHECK-NEXT:        memref.store %[[T]], %[[DST]][%[[B]], %[[H]], %[[I]], %[[D]]] : memref<?x?x?x64xbf16>
// CHECK-NOT:     scf.for
// CHECK:         return
func.func @store_truncates(%tile: memref<32x64xf32>, %dst: memref<?x?x?x64xbf16>,
                           %b: index, %h: index, %row: index) {
  attn.tile.store %tile into %dst[%b, %h, %row]
      : memref<32x64xf32>, memref<?x?x?x64xbf16>
  return
}

// -----

// Store of an f32 row-state tile into an f32 LSE buffer: no conversion.

// CHECK-LABEL: func.func @store_1d_same_type(
// CHECK:         scf.for
// CHECK-NEXT:      %[[X:.+]] = memref.load %{{.+}} : memref<16xf32>
// CHECK-NOT:       arith.truncf
// CHECK:           memref.store %[[X]], %{{.+}} : memref<?x?x?xf32>
func.func @store_1d_same_type(%tile: memref<16xf32>, %dst: memref<?x?x?xf32>,
                              %b: index, %h: index, %row: index) {
  attn.tile.store %tile into %dst[%b, %h, %row]
      : memref<16xf32>, memref<?x?x?xf32>
  return
}

// -----

// CHECK-LABEL: func.func @fill(
// CHECK-SAME:    %[[T:[^:]+]]: memref<8x4xf32>)
// CHECK-DAG:     %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK:         scf.for %[[R:.+]] =
// CHECK-NEXT:      scf.for %[[C:.+]] =
// CHECK-NEXT:        memref.store %[[NEGINF]], %[[T]][%[[R]], %[[C]]]
func.func @fill(%t: memref<8x4xf32>) {
  attn.tile.fill %t, 0xFF800000 : memref<8x4xf32>
  return
}

// -----

// qk: an f32 dot product over the head dimension (bf16 widened), then scaled.

// CHECK-LABEL: func.func @qk(
// CHECK-SAME:    %[[Q:[^:]+]]: memref<16x64xbf16>, %[[K:[^:]+]]: memref<8x64xbf16>, %[[S:[^:]+]]: memref<16x8xf32>)
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[SCALE:.+]] = arith.constant 1.250000e-01 : f32
// CHECK-DAG:     %[[C8:.+]] = arith.constant 8 : index
// CHECK-DAG:     %[[C16:.+]] = arith.constant 16 : index
// CHECK-DAG:     %[[C64:.+]] = arith.constant 64 : index
// CHECK:         scf.for %[[R:.+]] = %{{.+}} to %[[C16]]
// CHECK-NEXT:      scf.for %[[C:.+]] = %{{.+}} to %[[C8]]
// CHECK-NEXT:        %[[DOT:.+]] = scf.for %[[D:.+]] = %{{.+}} to %[[C64]] step %{{.+}} iter_args(%[[ACC:.+]] = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:          %[[QV:.+]] = memref.load %[[Q]][%[[R]], %[[D]]]
// CHECK-NEXT:          %[[QF:.+]] = arith.extf %[[QV]] : bf16 to f32
// CHECK-NEXT:          %[[KV:.+]] = memref.load %[[K]][%[[C]], %[[D]]]
// CHECK-NEXT:          %[[KF:.+]] = arith.extf %[[KV]] : bf16 to f32
// CHECK-NEXT:          %[[P:.+]] = arith.mulf %[[QF]], %[[KF]] : f32
// CHECK-NEXT:          %[[SUM:.+]] = arith.addf %[[ACC]], %[[P]] : f32
// CHECK-NEXT:          scf.yield %[[SUM]] : f32
// CHECK:             %[[SC:.+]] = arith.mulf %[[DOT]], %[[SCALE]] : f32
// CHECK-NEXT:        memref.store %[[SC]], %[[S]][%[[R]], %[[C]]]
func.func @qk(%q: memref<16x64xbf16>, %k: memref<8x64xbf16>,
              %s: memref<16x8xf32>) {
  attn.tile.qk %q, %k into %s scale(1.250000e-01)
      : memref<16x64xbf16>, memref<8x64xbf16>, memref<16x8xf32>
  return
}

// -----

// qk on f32 tiles: no widening.

// CHECK-LABEL: func.func @qk_f32(
// CHECK-NOT:     arith.extf
// CHECK:         arith.mulf
// CHECK:         return
func.func @qk_f32(%q: memref<4x128xf32>, %k: memref<4x128xf32>,
                  %s: memref<4x4xf32>) {
  attn.tile.qk %q, %k into %s scale(1.0)
      : memref<4x128xf32>, memref<4x128xf32>, memref<4x4xf32>
  return
}

// -----

// mask with a full band and a predicate: i = q0 + r, j = k0 + c; the key
// bound and the band become a column range [first, last] of c' = j - jBase
// at jBase = j (TileMaskOp::buildColumnBounds), tested at c' = 0:
//   last  = min(nk - j - 1, (i + nk - nq - j) + upper),
//   first = (i + nk - nq - j) + lower;
// the predicate body is cloned with (i, j) for its arguments.

// CHECK-LABEL: func.func @mask_band_predicate(
// CHECK-SAME:    %[[S:[^:]+]]: memref<16x8xf32>, %[[Q0:[^:]+]]: index, %[[K0:[^:]+]]: index, %[[NQ:[^:]+]]: index, %[[NK:[^:]+]]: index)
// CHECK-DAG:     %[[LO:.+]] = arith.constant -3 : index
// CHECK-DAG:     %[[MINUS1:.+]] = arith.constant -1 : index
// CHECK-DAG:     %[[ZERO:.+]] = arith.constant 0 : index
// CHECK-DAG:     %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK:         %[[OFF:.+]] = arith.subi %[[NK]], %[[NQ]] : index
// CHECK:         scf.for %[[R:.+]] =
// CHECK-NEXT:      scf.for %[[C:.+]] =
// CHECK-NEXT:        %[[I:.+]] = arith.addi %[[Q0]], %[[R]] : index
// CHECK-NEXT:        %[[J:.+]] = arith.addi %[[K0]], %[[C]] : index
// CHECK-NEXT:        %[[REST:.+]] = arith.subi %[[NK]], %[[J]] : index
// CHECK-NEXT:        %[[KEYLAST:.+]] = arith.addi %[[REST]], %[[MINUS1]] : index
// CHECK-NEXT:        %[[DIAG:.+]] = arith.addi %[[I]], %[[OFF]] : index
// CHECK-NEXT:        %[[SHIFT:.+]] = arith.subi %[[DIAG]], %[[J]] : index
// CHECK-NEXT:        %[[LAST:.+]] = arith.minsi %[[KEYLAST]], %[[SHIFT]] : index
// CHECK-NEXT:        %[[FIRST:.+]] = arith.addi %[[SHIFT]], %[[LO]] : index
// CHECK-NEXT:        %[[LE:.+]] = arith.cmpi sge, %[[LAST]], %[[ZERO]] : index
// CHECK-NEXT:        %[[GE:.+]] = arith.cmpi sle, %[[FIRST]], %[[ZERO]] : index
// CHECK-NEXT:        %[[A1:.+]] = arith.andi %[[LE]], %[[GE]] : i1
// CHECK-NEXT:        %[[DIFF:.+]] = arith.subi %[[I]], %[[J]] : index
// CHECK-NEXT:        %[[PRED:.+]] = arith.cmpi ne, %[[DIFF]], %{{.+}} : index
// CHECK-NEXT:        %[[A2:.+]] = arith.andi %[[A1]], %[[PRED]] : i1
// CHECK-NEXT:        %[[X:.+]] = memref.load %[[S]][%[[R]], %[[C]]]
// CHECK-NEXT:        %[[Y:.+]] = arith.select %[[A2]], %[[X]], %[[NEGINF]] : f32
// CHECK-NEXT:        memref.store %[[Y]], %[[S]][%[[R]], %[[C]]]
// CHECK-NOT:     attn.yield
func.func @mask_band_predicate(%s: memref<16x8xf32>, %q0: index, %k0: index,
                               %nq: index, %nk: index) {
  attn.tile.mask %s at(%q0, %q0, %q0, %k0) extents(%nq, %nk) band_lower(-3)
      band_upper(0) predicate {
  ^bb0(%pb: index, %ph: index, %i: index, %j: index):
    %d = arith.subi %i, %j : index
    %c5 = arith.constant 5 : index
    %ok = arith.cmpi ne, %d, %c5 : index
    attn.yield %ok : i1
  } : memref<16x8xf32>
  return
}

// -----

// The predicate region may use values defined above the mask op: the clone
// refers to them directly.

// CHECK-LABEL: func.func @mask_predicate_uses_outer_value(
// CHECK-SAME:    %[[S:[^:]+]]: memref<4x4xf32>, %[[Q0:[^:]+]]: index, %[[K0:[^:]+]]: index, %{{[^:]+}}: index, %[[NK:[^:]+]]: index, %[[LIMIT:[^:]+]]: index)
// CHECK:         scf.for %[[R:.+]] =
// CHECK-NEXT:      scf.for %[[C:.+]] =
// CHECK-NEXT:        %[[I:.+]] = arith.addi %[[Q0]], %[[R]] : index
// CHECK-NEXT:        %[[J:.+]] = arith.addi %[[K0]], %[[C]] : index
// CHECK-NEXT:        %[[REST:.+]] = arith.subi %[[NK]], %[[J]] : index
// CHECK-NEXT:        %[[LAST:.+]] = arith.addi %[[REST]], %{{.+}} : index
// CHECK-NEXT:        %[[INKEYS:.+]] = arith.cmpi sge, %[[LAST]], %{{.+}} : index
// CHECK-NEXT:        %[[SUM:.+]] = arith.addi %[[I]], %[[J]] : index
// CHECK-NEXT:        %[[OK:.+]] = arith.cmpi ult, %[[SUM]], %[[LIMIT]] : index
// CHECK-NEXT:        %[[ALLOWED:.+]] = arith.andi %[[INKEYS]], %[[OK]] : i1
// CHECK-NEXT:        %[[X:.+]] = memref.load %[[S]][%[[R]], %[[C]]]
// CHECK-NEXT:        arith.select %[[ALLOWED]], %[[X]], %{{.+}} : f32
func.func @mask_predicate_uses_outer_value(%s: memref<4x4xf32>, %q0: index,
                                           %k0: index, %nq: index,
                                           %nk: index, %limit: index) {
  attn.tile.mask %s at(%q0, %q0, %q0, %k0) extents(%nq, %nk) predicate {
  ^bb0(%pb: index, %ph: index, %i: index, %j: index):
    %sum = arith.addi %i, %j : index
    %ok = arith.cmpi ult, %sum, %limit : index
    attn.yield %ok : i1
  } : memref<4x4xf32>
  return
}

// -----

// mask without band or predicate: only the key bound j < key_len remains,
// as nk - j - 1 >= 0.

// CHECK-LABEL: func.func @mask_keys_only(
// CHECK-SAME:    %[[S:[^:]+]]: memref<4x4xf32>, %{{[^:]+}}: index, %[[K0:[^:]+]]: index, %{{[^:]+}}: index, %[[NK:[^:]+]]: index)
// CHECK:         scf.for
// CHECK:           %[[J:.+]] = arith.addi %[[K0]], %{{.+}} : index
// CHECK-NEXT:      %[[REST:.+]] = arith.subi %[[NK]], %[[J]] : index
// CHECK-NEXT:      %[[LAST:.+]] = arith.addi %[[REST]], %{{.+}} : index
// CHECK-NEXT:      %[[OK:.+]] = arith.cmpi sge, %[[LAST]], %{{.+}} : index
// CHECK-NOT:       arith.cmpi
// CHECK:           arith.select %[[OK]]
func.func @mask_keys_only(%s: memref<4x4xf32>, %q0: index, %k0: index,
                          %nq: index, %nk: index) {
  attn.tile.mask %s at(%q0, %q0, %q0, %k0) extents(%nq, %nk) : memref<4x4xf32>
  return
}

// -----

// mask with only an upper bound (causal): the band narrows `last`, and there
// is no lower-bound comparison.

// CHECK-LABEL: func.func @mask_causal(
// CHECK:         scf.for
// CHECK:           %[[LAST:.+]] = arith.minsi
// CHECK-NEXT:      arith.cmpi sge, %[[LAST]]
// CHECK-NOT:     arith.cmpi sle
// CHECK:         return
func.func @mask_causal(%s: memref<4x4xf32>, %q0: index, %k0: index,
                       %nq: index, %nk: index) {
  attn.tile.mask %s at(%q0, %q0, %q0, %k0) extents(%nq, %nk) band_upper(0)
      : memref<4x4xf32>
  return
}

// -----

// online_softmax (log2 domain): the row's tile max, the lazy rise test
// against m + rescale_threshold, the new max, the -inf guard (m' = -inf
// gives alpha = 1 and exp2(S - 0) = 0), the probabilities written back into
// S and summed, l and acc rescaled by alpha.

// CHECK-LABEL: func.func @online_softmax(
// CHECK-SAME:    %[[S:[^:]+]]: memref<16x8xf32>, %[[M:[^:]+]]: memref<16xf32>, %[[L:[^:]+]]: memref<16xf32>, %[[ACC:[^:]+]]: memref<16x32xf32>)
// CHECK-DAG:     %[[THRESHOLD:.+]] = arith.constant 8.000000e+00 : f32
// CHECK:         scf.for %[[R:.+]] =
// CHECK-NEXT:      %[[MOLD:.+]] = memref.load %[[M]][%[[R]]]
// CHECK-NEXT:      %[[TMAX:.+]] = scf.for %{{.+}} iter_args(%[[MAXSOFAR:.+]] = %{{.+}}) -> (f32) {
// CHECK-NEXT:        %[[X:.+]] = memref.load %[[S]]
// CHECK-NEXT:        %[[MX:.+]] = arith.maximumf %[[MAXSOFAR]], %[[X]] : f32
// CHECK-NEXT:        scf.yield %[[MX]]
// CHECK:           %[[BOUND:.+]] = arith.addf %[[MOLD]], %[[THRESHOLD]] : f32
// CHECK-NEXT:      %[[RISES:.+]] = arith.cmpf ogt, %[[TMAX]], %[[BOUND]] : f32
// CHECK-NEXT:      %[[RAISED:.+]] = arith.maxnumf %[[MOLD]], %[[TMAX]] : f32
// CHECK-NEXT:      %[[MNEW:.+]] = arith.select %[[RISES]], %[[RAISED]], %[[MOLD]] : f32
// CHECK:           %[[DEAD:.+]] = arith.cmpf oeq, %[[MNEW]], %{{.+}} : f32
// CHECK:           %[[BASE:.+]] = arith.select %[[DEAD]], %{{.+}}, %[[MNEW]] : f32
// CHECK:           %[[SH:.+]] = arith.subf %[[MOLD]], %[[BASE]] : f32
// CHECK-NEXT:      %[[E:.+]] = math.exp2 %[[SH]] : f32
// CHECK-NEXT:      %[[ALPHA:.+]] = arith.select %[[DEAD]], %{{.+}}, %[[E]] : f32
// CHECK-NEXT:      %[[TSUM:.+]] = scf.for %[[C:.+]] = {{.+}} iter_args(%[[SUM:.+]] = %{{.+}}) -> (f32) {
// CHECK-NEXT:        %[[X2:.+]] = memref.load %[[S]][%[[R]], %[[C]]]
// CHECK-NEXT:        %[[D:.+]] = arith.subf %[[X2]], %[[BASE]] : f32
// CHECK-NEXT:        %[[P:.+]] = math.exp2 %[[D]] : f32
// CHECK-NEXT:        memref.store %[[P]], %[[S]][%[[R]], %[[C]]]
// CHECK-NEXT:        %[[SUM2:.+]] = arith.addf %[[SUM]], %[[P]] : f32
// CHECK-NEXT:        scf.yield %[[SUM2]]
// CHECK:           %[[LOLD:.+]] = memref.load %[[L]][%[[R]]]
// CHECK-NEXT:      %[[LNEW:.+]] = math.fma %[[ALPHA]], %[[LOLD]], %[[TSUM]] : f32
// CHECK-NEXT:      memref.store %[[LNEW]], %[[L]][%[[R]]]
// CHECK-NEXT:      scf.for %[[E2:.+]] =
// CHECK-NEXT:        %[[A:.+]] = memref.load %[[ACC]][%[[R]], %[[E2]]]
// CHECK-NEXT:        %[[AS:.+]] = arith.mulf %[[A]], %[[ALPHA]] : f32
// CHECK-NEXT:        memref.store %[[AS]], %[[ACC]][%[[R]], %[[E2]]]
// CHECK:           memref.store %[[MNEW]], %[[M]][%[[R]]]
func.func @online_softmax(%s: memref<16x8xf32>, %m: memref<16xf32>,
                          %l: memref<16xf32>, %acc: memref<16x32xf32>) {
  attn.tile.online_softmax %s, %m, %l, %acc rescale_threshold(8.0)
      : memref<16x8xf32>, memref<16xf32>, memref<16xf32>, memref<16x32xf32>
  return
}

// -----

// pv: acc[r, e] += p[r, c] * f32(v[c, e]).

// CHECK-LABEL: func.func @pv(
// CHECK-SAME:    %[[P:[^:]+]]: memref<16x8xf32>, %[[V:[^:]+]]: memref<8x32xbf16>, %[[ACC:[^:]+]]: memref<16x32xf32>)
// CHECK:         scf.for %[[R:.+]] =
// CHECK-NEXT:      scf.for %[[C:.+]] =
// CHECK-NEXT:        scf.for %[[E:.+]] =
// CHECK-NEXT:          %[[PV:.+]] = memref.load %[[P]][%[[R]], %[[C]]]
// CHECK-NEXT:          %[[VV:.+]] = memref.load %[[V]][%[[C]], %[[E]]]
// CHECK-NEXT:          %[[VF:.+]] = arith.extf %[[VV]] : bf16 to f32
// CHECK-NEXT:          %[[A:.+]] = memref.load %[[ACC]][%[[R]], %[[E]]]
// CHECK-NEXT:          %[[PROD:.+]] = arith.mulf %[[PV]], %[[VF]] : f32
// CHECK-NEXT:          %[[SUM:.+]] = arith.addf %[[A]], %[[PROD]] : f32
// CHECK-NEXT:          memref.store %[[SUM]], %[[ACC]][%[[R]], %[[E]]]
func.func @pv(%p: memref<16x8xf32>, %v: memref<8x32xbf16>,
              %acc: memref<16x32xf32>) {
  attn.tile.pv %p, %v into %acc
      : memref<16x8xf32>, memref<8x32xbf16>, memref<16x32xf32>
  return
}

// -----

// finalize: acc times 1 / l and LSE = m ln 2 + ln l, with l = 0 giving
// acc = 0 and LSE = -inf (selected, so no NaN reaches the outputs).

// CHECK-LABEL: func.func @finalize(
// CHECK-SAME:    %[[ACC:[^:]+]]: memref<16x32xf32>, %[[M:[^:]+]]: memref<16xf32>, %[[L:[^:]+]]: memref<16xf32>)
// CHECK:         scf.for %[[R:.+]] =
// CHECK-NEXT:      %[[LV:.+]] = memref.load %[[L]][%[[R]]]
// CHECK:           %[[EMPTY:.+]] = arith.cmpf oeq, %[[LV]], %{{.+}} : f32
// CHECK:           %[[INV:.+]] = arith.divf %{{.+}}, %[[LV]] : f32
// CHECK-NEXT:      %[[SAFEINV:.+]] = arith.select %[[EMPTY]], %{{.+}}, %[[INV]] : f32
// CHECK-NEXT:      scf.for %[[E:.+]] =
// CHECK-NEXT:        %[[A:.+]] = memref.load %[[ACC]][%[[R]], %[[E]]]
// CHECK-NEXT:        %[[O:.+]] = arith.mulf %[[A]], %[[SAFEINV]] : f32
// CHECK-NEXT:        memref.store %[[O]], %[[ACC]][%[[R]], %[[E]]]
// CHECK:           %[[MV:.+]] = memref.load %[[M]][%[[R]]]
// CHECK:           %[[LOG:.+]] = math.log %[[LV]] : f32
// CHECK-NEXT:      %[[LSE:.+]] = math.fma %[[MV]], %{{.+}}, %[[LOG]] : f32
// CHECK:           %[[OUT:.+]] = arith.select %{{.+}}, %{{.+}}, %[[LSE]] : f32
// CHECK-NEXT:      memref.store %[[OUT]], %[[M]][%[[R]]]
func.func @finalize(%acc: memref<16x32xf32>, %m: memref<16xf32>,
                    %l: memref<16xf32>) {
  attn.tile.finalize %acc, %m, %l
      : memref<16x32xf32>, memref<16xf32>, memref<16xf32>
  return
}

// -----

// The body of an scf.forall that allocates tiles is wrapped in
// memref.alloca_scope; a forall without allocas is left alone.

// CHECK-LABEL: func.func @forall_scope(
// CHECK:         scf.forall (%{{.+}}) in (%{{.+}}) {
// CHECK-NEXT:      memref.alloca_scope {
// CHECK-NEXT:        %[[T:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT:        scf.for %[[R:.+]] =
// CHECK-NEXT:          memref.store %{{.+}}, %[[T]][%[[R]]]
// CHECK:           }
// CHECK-NEXT:    }
// CHECK:         scf.forall
// CHECK-NOT:       memref.alloca_scope
// CHECK:         return
func.func @forall_scope(%n: index, %buf: memref<16xf32>) {
  scf.forall (%i) in (%n) {
    %t = memref.alloca() : memref<16xf32>
    attn.tile.fill %t, 0.0 : memref<16xf32>
  }
  scf.forall (%i) in (%n) {
    attn.tile.fill %buf, 1.0 : memref<16xf32>
  }
  return
}

// -----

// A whole L2 q-tile body as attn-tile emits it: every tile op is lowered and
// nothing of the attn dialect is left.

// CHECK-LABEL: func.func @q_tile(
// CHECK-NOT:     attn.
// CHECK:         scf.forall
// CHECK-NEXT:      memref.alloca_scope
// CHECK-NOT:     attn.
// CHECK:         return
func.func @q_tile(%q: memref<?x?x?x64xf32>, %k: memref<?x?x?x64xf32>,
                  %v: memref<?x?x?x64xf32>, %o: memref<?x?x?x64xf32>,
                  %lse: memref<?x?x?xf32>, %b: index, %h: index, %nt: index,
                  %nq: index, %nk: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  scf.forall (%t) in (%nt) {
    %qt = memref.alloca() : memref<16x64xf32>
    %kt = memref.alloca() : memref<16x64xf32>
    %vt = memref.alloca() : memref<16x64xf32>
    %s = memref.alloca() : memref<16x16xf32>
    %m = memref.alloca() : memref<16xf32>
    %l = memref.alloca() : memref<16xf32>
    %acc = memref.alloca() : memref<16x64xf32>
    %q0 = arith.muli %t, %c16 : index
    attn.tile.load %q[%b, %h, %q0] into %qt
        : memref<?x?x?x64xf32>, memref<16x64xf32>
    attn.tile.fill %m, 0xFF800000 : memref<16xf32>
    attn.tile.fill %l, 0.0 : memref<16xf32>
    attn.tile.fill %acc, 0.0 : memref<16x64xf32>
    scf.for %k0 = %c0 to %nk step %c16 {
      attn.tile.load %k[%b, %h, %k0] into %kt
          : memref<?x?x?x64xf32>, memref<16x64xf32>
      attn.tile.load %v[%b, %h, %k0] into %vt
          : memref<?x?x?x64xf32>, memref<16x64xf32>
      attn.tile.qk %qt, %kt into %s scale(1.250000e-01)
          : memref<16x64xf32>, memref<16x64xf32>, memref<16x16xf32>
      attn.tile.mask %s at(%q0, %q0, %q0, %k0) extents(%nq, %nk) band_upper(0)
          : memref<16x16xf32>
      attn.tile.online_softmax %s, %m, %l, %acc
          : memref<16x16xf32>, memref<16xf32>, memref<16xf32>,
            memref<16x64xf32>
      attn.tile.pv %s, %vt into %acc
          : memref<16x16xf32>, memref<16x64xf32>, memref<16x64xf32>
    }
    attn.tile.finalize %acc, %m, %l
        : memref<16x64xf32>, memref<16xf32>, memref<16xf32>
    attn.tile.store %acc into %o[%b, %h, %q0]
        : memref<16x64xf32>, memref<?x?x?x64xf32>
    attn.tile.store %m into %lse[%b, %h, %q0]
        : memref<16xf32>, memref<?x?x?xf32>
  }
  return
}
