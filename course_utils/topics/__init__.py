"""BERTopic, stage by stage, on Rotten Tomatoes.

Taught in notebook 04 (BERTopic): ``pipeline`` (embed, reduce, cluster, c-TF-IDF, words: each
stage an explicit component), ``timing`` (each stage's time), ``outliers`` (the outlier topic
and its levers; "Outliers: the levers"), ``plots`` (BERTopic's figures saved offline, with
static twins; "Visualisations") and ``store`` (saving and loading with safetensors only; "Save,
load, predict").
"""
