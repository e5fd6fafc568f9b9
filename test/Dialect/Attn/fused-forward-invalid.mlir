// RUN: attn-opt %s --split-input-file --verify-diagnostics

!t = memref<?x?x?x64xbf16>
func.func @block_size(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{block_q = 96 must be a power of two between 1 and 1024}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(96, 64) scale(0.125) schedule(dense)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @dense_with_band(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{schedule 'dense' takes no band; use 'range'}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(dense) band_upper(0)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @list_without_lists(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{schedule 'list' needs kv_list(counts, indices)}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(list)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @list_with_range(%q: !t, %o: !t, %i: index, %c: memref<1x1x?x2xi32>, %x: memref<1x1x?x?xi32>) {
  // expected-error@+1 {{schedule 'list' takes no kv_tiles}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) kv_list(%c, %x : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>) block(64, 64) scale(0.125) schedule(list)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @lists_on_dense(%q: !t, %o: !t, %i: index, %c: memref<1x1x?x2xi32>, %x: memref<1x1x?x?xi32>) {
  // expected-error@+1 {{kv_list needs schedule 'list'}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_list(%c, %x : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>) block(64, 64) scale(0.125) schedule(dense)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @dense_without_range(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{schedules 'dense' and 'range' need kv_tiles(begin, end)}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) block(64, 64) scale(0.125) schedule(dense)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @list_counts_extent(%q: !t, %o: !t, %i: index, %c: memref<1x1x?x3xi32>, %x: memref<1x1x?x?xi32>) {
  // expected-error@+1 {{kv_list counts must have a last extent of 2 (full and partial tiles), got 'memref<1x1x?x3xi32>'}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_list(%c, %x : memref<1x1x?x3xi32>, memref<1x1x?x?xi32>) block(64, 64) scale(0.125) schedule(list)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @list_index_type(%q: !t, %o: !t, %i: index, %c: memref<1x1x?x2xi32>, %x: memref<1x1x?x?xi64>) {
  // expected-error@+1 {{operand #9 must be 4D memref of 32-bit signless integer values}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_list(%c, %x : memref<1x1x?x2xi32>, memref<1x1x?x?xi64>) block(64, 64) scale(0.125) schedule(list)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @threshold(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{rescale_threshold must be finite and non-negative, got -1}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(dense) rescale_threshold(-1.0)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @scale(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{scale must be finite and positive}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.0) schedule(dense)
  return
}

// -----

func.func @element_types(%q: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xf16>, %i: index) {
  // expected-error@+1 {{query, key, value and output must share one element type}}
  attn.fused.forward ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xf16>) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(dense)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @predicate_arity(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{predicate must take four index arguments (batch, query head, query index, key index)}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(dense) predicate {
  ^bb0(%a: index, %c: index):
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @predicate_writes(%q: !t, %o: !t, %i: index, %m: memref<?xi32>) {
  // expected-error@+1 {{predicate must not write, allocate or free memory, but 'memref.store' writes memory}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(dense) predicate {
  ^bb0(%b: index, %h: index, %r: index, %c: index):
    %z = arith.constant 0 : i32
    // expected-note@+1 {{side effect here}}
    memref.store %z, %m[%r] : memref<?xi32>
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

// Band bounds past 2^62 would overflow the band arithmetic: rejected, the
// limit named (attn-plan clamps a mask's wider bounds instead).
!t = memref<?x?x?x64xbf16>
func.func @band_past_limit(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{band_upper (9223372036854775807) is outside [-2^62, 2^62], the range in which band arithmetic is exact; a wider bound excludes nothing: omit it}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(range) band_upper(9223372036854775807)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @plan_band_past_limit(%q: !t, %o: !t) {
  // expected-error@+1 {{band_lower (-4611686018427387905) is outside [-2^62, 2^62]}}
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(range) band_lower(-4611686018427387905)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @nm_block_k(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{block_k = 4 must be a multiple of the N:M group size 8, so that no group spans two kv-tiles}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 4) scale(0.125) schedule(dense) nm(4 of 8)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @nm_pattern(%q: !t, %o: !t, %i: index) {
  // expected-error@+1 {{N:M group size m must be 2, 4 or 8, got 16}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) block(64, 64) scale(0.125) schedule(dense) nm(4 of 16)
  return
}
