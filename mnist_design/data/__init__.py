"""MNIST's fixed facts, defined once: every image is 28x28 grayscale, ten classes, and the pixel statistics."""

IMAGE_SIZE = 28  # side of every MNIST image, pixels
IN_CHANNELS = 1  # grayscale
NUM_CLASSES = 10  # digits 0-9
MEAN = 0.1307  # mean pixel value of the training images, in [0, 1]
STD = 0.3081  # their standard deviation
TRAIN_IMAGES = 60_000  # the official training set, before any validation split
