// RUN: attn-opt %s --split-input-file --attn-tile --attn-to-gpu --verify-diagnostics

// A static head count above the grid's y limit.
!t = memref<?x70000x?x64xf16>
func.func @heads(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error@+1 {{attn-to-gpu: grid y (query heads) is 70000, more than the 65535 a launch allows}}
  attn.plan ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(dense)
  return
}

// -----

// An output that is also an input.
!t = memref<?x?x?x64xf16>
func.func @aliased(%q: !t, %k: !t, %v: !t) {
  // expected-error@+1 {{attn-to-gpu: function argument #1 is used both as 'k' and as 'o'; pass separate buffers}}
  attn.plan ins(%q, %k, %v : !t, !t, !t) outs(%k : !t) scale(0.125) schedule(dense)
  return
}

// -----

// An argument a bundle cannot carry.
!t = memref<?x?x?x64xf16>
func.func @scalar(%q: !t, %k: !t, %v: !t, %o: !t, %n: index) {
  // expected-error@-1 {{attn-to-gpu: argument #4 of type 'index' cannot be passed to a kernel bundle}}
  attn.plan ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(dense)
  return
}

// -----

// A memref a predicate reads whose attn.shape does not match its rank.
!t = memref<?x?x?x64xf16>
func.func @bad_shape(%q: !t, %k: !t, %v: !t, %o: !t,
                     %limits: memref<?xi32> {attn.shape = ["Nq", "Nk"]}) {
  // expected-error@-2 {{attn-to-gpu: attn.shape of argument #4 has 2 entries for a rank-1 memref}}
  attn.plan ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(dense) predicate {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %n = memref.load %limits[%i] : memref<?xi32>
    %c = arith.index_cast %n : i32 to index
    %ok = arith.cmpi slt, %j, %c : index
    attn.yield %ok : i1
  }
  return
}
