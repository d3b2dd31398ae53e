"""Networks in plain torch (no torchvision): 2-D ResNets for the CT models and the BiLSTM head."""
