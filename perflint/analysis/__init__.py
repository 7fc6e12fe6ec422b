"""Analysis shared by rules: qualified names, torch grad contexts, pandas evidence, dataflow facts."""
