"""Facts rules ask about code; each fact has one home.

Fact -> the module that decides it:

- Is this a tensor? a module? what is ``.cpu()``'s receiver?      -> ``torch_values``
  (``is_tensor``, ``is_module``, ``receiver_kind``; the one list of module method names)
- Graph-free? which graph does a value keep? which torch ops make new tensors / cannot require grad?
                                                                   -> ``graph_free``
- Grad mode at a point (``no_grad``, ``inference_mode``, decorators) -> ``torch_context``
- Training loops: backward calls, optimizer steps, enclosing loops  -> ``training_loop``
- The value bound to a name; names an assignment target binds; the binding that reaches a use
                                                                   -> ``bindings``
- What a name refers to (qualified names, aliases, ``a.b.c``)       -> ``names``
- Tree shape: parent, source position for ordering (``start``), scope-respecting walks, the per-module
  ``TreeIndex``, "inside a nested def/lambda/class?"                 -> ``syntax``
- Rebinding, mutation and reach between two points; fresh names     -> ``dataflow``
- DataFrame / Series evidence and column dtypes                     -> ``pandas_evidence``; iterrows loops -> ``iterrows``
- Host conversions (``.cpu().numpy()`` chains) and their sites      -> ``host_conversions``, ``conversion_sites``,
  ``conversion_helpers``; local function calls -> ``local_calls``
- Cheap prefilter shapes on Python's ``ast`` (for ``could_match``)  -> ``ast_shapes``
"""
