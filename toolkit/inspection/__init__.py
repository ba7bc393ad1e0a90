"""Looking at a model: summary(), diagram(), a layer's calls and the tensors of each call, feature extraction."""
