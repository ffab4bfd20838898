"""Importers of trained models into cimsim's canonical weights + workload: ``torch_fx`` (``pip install
'cimsim[torch]'``) and ``onnx_import`` (``pip install 'cimsim[onnx]'``), both tables of per-op handlers over the
shared :class:`~cimsim.importers.builder.GraphBuilder`; ``output`` writes their files."""
