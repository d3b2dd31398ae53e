"""Head CT training data for the 0.3 CT models: real slices (CT-ICH, PHE-SICH), phantoms, lesions
inserted into real backgrounds, and the augmentations that make them look like each other.

Everything is stored at the model grid (256x256, radiological orientation, anterior up) as the
8-bit brain-window export (`core.imaging.pseudo_hu`): the one form every source can take.
"""
