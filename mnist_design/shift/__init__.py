"""How a design holds up off MNIST's test set: MNIST-C-like corruptions of the test images (corruptions.py), digits
MNIST never saw, UCI handwriting and printed fonts (digits.py), and the suite that scores a model on all of them
(suite.py)."""
