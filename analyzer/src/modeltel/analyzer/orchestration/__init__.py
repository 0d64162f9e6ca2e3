"""Orchestration: the Analyzer façade, the analysis loop, the health score and the retrain
policy. It runs what the registry of analyses holds."""
