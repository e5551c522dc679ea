package org.xrayscreening.models.network;

import ai.djl.nn.Block;
import org.xrayscreening.models.Architecture;

/** Builds the project's networks; the one place that maps an {@link Architecture} to a DJL block. */
public final class Networks {
    private Networks() {}

    /** Backbone without its ImageNet top, as Keras' {@code include_top=False} (no pooling). */
    public static Block backbone(Architecture architecture) {
        throw new UnsupportedOperationException("not yet implemented: " + architecture);
    }

    /**
     * Backbone + global average pooling + a dense layer of {@code numClasses} logits. Input NCHW float,
     * output (N, numClasses) logits; softmax gives probabilities.
     */
    public static Block classifier(Architecture architecture, int numClasses) {
        throw new UnsupportedOperationException("not yet implemented: " + architecture);
    }
}
