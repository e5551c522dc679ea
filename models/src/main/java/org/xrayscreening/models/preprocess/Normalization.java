package org.xrayscreening.models.preprocess;

/** Input normalization of each Keras original; pretrained weights are only meaningful with the matching one. */
public enum Normalization {
    /** tf-style: x / 127.5 - 1 (MobileNet, InceptionV3, Xception). */
    MINUS_ONE_TO_ONE,
    /** caffe-style: RGB to BGR, then subtract the ImageNet channel means, no scaling (ResNet50). */
    CAFFE,
    /**
     * x / 255 into [0, 1]: the input of nsfwjs' fine-tuned Keras InceptionV3 (its {@code infer} divides by 255),
     * whose weights an InceptionV3 can be initialised from; such a model records it in its metadata.
     */
    ZERO_TO_ONE
}
