"""Facts rules ask about code; each fact has one home.

- ``torch_values``: is this a tensor? a module? what is ``.cpu()``'s receiver? (``is_tensor``, ``is_module``,
  ``receiver_kind``, ``has_tensor_evidence``; the one list of module method names)
- ``graph_free``: does a value carry an autograd graph, and which? which torch ops make new tensors, return their
  input, or cannot require grad? (``is_graph_free``, ``proven_graph_free``, ``proven_new``, ``graph_roots``)
- ``torch_context``: the grad mode at a point (``no_grad``, ``inference_mode``, decorators)
- ``training_loop``: loops that backpropagate or step an optimizer; backpropagated names
- ``bindings``: the value bound to a name (each statement form decided once); a node's scope; the names an
  assignment target binds; the binding that reaches a use
- ``names``: what a name refers to (qualified names, aliases), ``a.b.c`` spellings
- ``syntax``: parents, source positions (``start``), scope-respecting walks, the ``TreeIndex`` of the module a
  node is in (built in the core, ``perflint.tree_index``: source order, frames, nodes by type; ordering by
  ``TreeIndex.order`` needs no positions), "inside a nested def/lambda/class?" (``deferred_between``,
  ``DeferredDepth``)
- ``dataflow``: rebinding, mutation and reach between two points; a function's ``global``/``nonlocal``
  declarations (``declarations``); fresh names
- ``pandas_evidence``: DataFrame / Series evidence and column dtypes; ``iterrows``: iterrows loop shapes
- ``host_conversions``, ``conversion_sites``, ``conversion_helpers``: ``.cpu().numpy()`` chains, where they
  repeat, helpers that convert a parameter; ``local_calls``: calls of functions defined in the module
- ``ast_shapes``: cheap shapes on Python's ``ast`` for ``could_match`` prefilters
"""
