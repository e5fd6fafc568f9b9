// A block-sparse attention written at level L2 (the fused step with a
// `list` schedule), for the GPU checks of the list schedule before a
// planner produces lists: causal and a shared block mask of 64 x 64
// blocks, block[i / 64, j / 64] != 0, over 128-row q-tiles and 64-key
// tiles. The caller passes the block mask and the per-q-tile lists
// (counts [1, 1, q-tiles, 2]: full and partial tiles; indices [1, 1,
// q-tiles, kv-tiles]: the full tiles, then the partial ones), which
// bench/bench_attention.py builds with PyTorch.
!t = memref<?x?x?x64xbf16>
func.func @block_list(
    %q: !t, %k: !t, %v: !t, %o: !t, %lse: memref<?x?x?xf32>,
    %block: memref<?x?xi32> {attn.name = "block", attn.shape = ["QB", "KB"]},
    %counts: memref<1x1x?x2xi32>
        {attn.name = "counts", attn.shape = [1, 1, "QT", 2]},
    %indices: memref<1x1x?x?xi32>
        {attn.name = "indices", attn.shape = [1, 1, "QT", "KT"]}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %bq = arith.constant 128 : index
  %nb = memref.dim %q, %c0 : !t
  %hq = memref.dim %q, %c1 : !t
  %nq = memref.dim %q, %c2 : !t
  %hk = memref.dim %k, %c1 : !t
  %group = arith.divui %hq, %hk : index
  %qtiles = arith.ceildivui %nq, %bq : index
  scf.forall (%b, %h, %t) in (%nb, %hq, %qtiles) {
    %q0 = arith.muli %t, %bq : index
    %kvh = arith.divui %h, %group : index
    attn.fused.forward ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
        lse(%lse : memref<?x?x?xf32>) at(%b, %h, %q0) kv_head(%kvh)
        kv_list(%counts, %indices : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>)
        block(128, 64) scale(0.125) schedule(list) band_upper(0)
        rescale_threshold(8.0) predicate {
    ^bb0(%pb: index, %ph: index, %i: index, %j: index):
      %bs = arith.constant 64 : index
      %bi = arith.divui %i, %bs : index
      %bj = arith.divui %j, %bs : index
      %on = memref.load %block[%bi, %bj] : memref<?x?xi32>
      %zero = arith.constant 0 : i32
      %allowed = arith.cmpi ne, %on, %zero : i32
      attn.yield %allowed : i1
    }
  }
  return
}
