package org.xrayscreening.models.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A 1x1 convolution with stride s, computed as a stride-1 1x1 convolution of the input subsampled every s
 * pixels. For a 1x1 kernel without padding the two are the same function of the input and the weights, so the
 * outputs and the gradients are identical (a test holds them to float rounding); the subsampled one does a
 * quarter of the reads at stride 2 and its backward pass never reaches a strided backward kernel.
 *
 * <p>Why: libtorch 2.7.1 (DJL 0.36) bundles oneDNN v3.7.1, whose backward-data pass of a <em>strided</em> 1x1
 * convolution ({@code brgemm_convolution_bwd_strided}) estimates its blocking in
 * {@code brgemm_convolution_bwd_utils::brg_blocking_t::est_eff_1x1()}. For a handful of channel pairs that
 * oneDNN special-cases ("maskrcnn" shapes: 1024/512, 512/1024, 1024/2048, 256/1024, 512/2048) that function
 * divides two integers, and the divisor is a count of spatial blocks that its cache-size-dependent blocking
 * can leave at zero. On AMD Zen 5 it does: ResNet50's {@code conv5_block1_1_conv} (1024 -> 512, stride 2) killed
 * the JVM with SIGFPE in the first backward pass, at 224 px and in the 80 px demo. A stride-1 1x1
 * convolution's backward-data is computed by oneDNN's forward kernels instead, which that code is not part of.
 * ResNet50 has six strided 1x1 convolutions and Xception four (its residual shortcuts); after this change none
 * of the four networks has one (asserted in {@code StrideFreePointwiseTest}).
 *
 * <p>The class is nested and named {@code Conv2d} on purpose: DJL names a child block after its class's simple
 * name, and parameter paths ({@code ..._01Conv2d_weight}) are what importers, saved registry models and the
 * Keras layer map refer to. With this name they are unchanged.
 */
public final class StrideFreePointwise {
    private StrideFreePointwise() {}

    /**
     * A 1x1 convolution that behaves as stride {@code subsampling} (no padding), computed without a strided
     * kernel; {@link #getStride()} reports the stride-1 kernel it runs.
     */
    public static final class Conv2d extends ai.djl.nn.convolutional.Conv2d {
        private final int subsampling;
        private final NDIndex every;

        Conv2d(int filters, int subsampling, boolean bias) {
            super(builderFor(filters, bias));
            if (subsampling < 2) {
                throw new IllegalArgumentException("subsampling must be at least 2, was " + subsampling);
            }
            this.subsampling = subsampling;
            this.every = new NDIndex(":, :, ::" + subsampling + ", ::" + subsampling);
        }

        private static Builder builderFor(int filters, boolean bias) {
            Builder b = ai.djl.nn.convolutional.Conv2d.builder();
            b.setFilters(filters).setKernelShape(new Shape(1, 1)).optStride(new Shape(1, 1))
                    .optPadding(new Shape(0, 0)).optBias(bias);
            return b;
        }

        /** The stride this block stands for (the stride of the Keras layer it reproduces). */
        public int subsampling() {
            return subsampling;
        }

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
                                         PairList<String, Object> params) {
            NDArray subsampled = inputs.singletonOrThrow().get(every);
            return super.forwardInternal(parameterStore, new NDList(subsampled), training, params);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            return super.getOutputShapes(new Shape[] {subsampledShape(inputs[0])});
        }

        private Shape subsampledShape(Shape in) {
            return new Shape(in.get(0), in.get(1), ceilDiv(in.get(2), subsampling), ceilDiv(in.get(3), subsampling));
        }

        private static long ceilDiv(long a, long b) {
            return (a + b - 1) / b;
        }
    }
}
