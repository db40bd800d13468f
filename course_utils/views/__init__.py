"""Looking inside a model: attention in BertViz's views, drawn offline, and the neuron view.

Taught in notebook 02 (BertViz attention): ``attention`` (attention out of any model into
BertViz's head and model views and static heatmaps; sections 1-4, 6 and 7), ``offline`` (the
views with no network: in a notebook and as saved pages; sections 2 and 7) and ``neuron``
(queries, keys and their product from safetensors weights; section 8).
"""
