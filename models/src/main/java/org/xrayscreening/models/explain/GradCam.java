package org.xrayscreening.models.explain;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.util.List;
import org.xrayscreening.models.network.KerasBackbone;
import org.xrayscreening.models.network.Networks;

/**
 * Grad-CAM (Selvaraju et al., 2017) for the project's classifiers ({@link Networks#classifier}): where in the
 * image the last convolutional feature map holds the evidence for one class (COVID-19 for the screening).
 *
 * <p>For feature map {@code A} (C, h, w) and class logit {@code y}: weights {@code a_c = mean_ij dy/dA_cij},
 * map {@code ReLU(sum_c a_c A_c)}, bilinearly upsampled to the image and divided by its maximum, so values lie
 * in [0, 1] and 0 keeps meaning "no evidence" (min-max scaling would invent evidence in an evidence-free map).
 * One implementation serves every architecture, the stream job and the evaluation reports.
 *
 * <p>How the gradient is taken: the backbone runs with grad mode off, its output is made a fresh leaf that
 * requires a gradient, and only the head (pooling, dropout off, dense) runs with grad mode on; so autograd
 * records the few head operations and never the backbone. Grad mode is set through {@link JniUtils} on the
 * calling thread and restored afterwards, not through DJL's GradientCollector: PyTorch's grad mode is
 * thread-local, but DJL allows only one GradientCollector per JVM at a time, and several Flink subtasks (or a
 * trainer) may compute heatmaps at once.
 *
 * <p>Not thread-safe with respect to the block: callers serialize it with their other uses of the same model
 * (as {@code CovidClassifier} does).
 */
public final class GradCam {

    private GradCam() {}

    /** The map at the feature map's resolution, after the ReLU and before scaling; row-major (h, w). */
    public record FeatureCam(int width, int height, float[] values) {
        public double max() {
            double max = 0;
            for (float v : values) {
                max = Math.max(max, v);
            }
            return max;
        }
    }

    /**
     * Grad-CAM of {@code classIndex} for one preprocessed image, upsampled to {@code outWidth x outHeight} (the
     * size of the image the caller shows; the preprocessing stretches the whole image to the square input, so
     * the square map stretches back the same way).
     *
     * @param classifier a block built by {@link Networks#classifier}, initialized
     * @param chw one preprocessed image (3, inputSize, inputSize)
     * @param manager parent of the per-call manager every tensor of this call lives in (closed before returning)
     */
    public static Heatmap heatmap(Block classifier, float[] chw, int inputSize, int classIndex, int outWidth,
                                  int outHeight, NDManager manager) {
        FeatureCam cam = featureCam(classifier, chw, inputSize, classIndex, manager);
        return upsample(cam, outWidth, outHeight);
    }

    /** Grad-CAM at the resolution of the last convolutional feature map (no upsampling, no scaling). */
    public static FeatureCam featureCam(Block classifier, float[] chw, int inputSize, int classIndex,
                                        NDManager manager) {
        List<Block> layers = layers(classifier);
        if (chw.length != 3 * inputSize * inputSize) {
            throw new IllegalArgumentException("input has " + chw.length + " values, expected 3x" + inputSize + "x"
                    + inputSize);
        }
        boolean gradWasOn = JniUtils.isGradMode();
        try (NDManager scope = manager.newSubManager()) {
            ParameterStore parameters = new ParameterStore(scope, false);
            JniUtils.setGradMode(false);
            NDArray input = scope.create(chw, new Shape(1, 3, inputSize, inputSize));
            NDArray features = layers.get(0).forward(parameters, new NDList(input), false).singletonOrThrow();
            // a leaf: the backward pass stops here instead of walking the whole backbone
            features.setRequiresGradient(true);

            JniUtils.setGradMode(true);
            NDList head = new NDList(features);
            for (Block layer : layers.subList(1, layers.size())) {
                head = layer.forward(parameters, head, false);
            }
            NDArray logits = head.singletonOrThrow();
            if (logits.getShape().dimension() != 2 || classIndex < 0 || classIndex >= logits.getShape().get(1)) {
                throw new IllegalArgumentException("class " + classIndex + " not in logits " + logits.getShape());
            }
            NDArray logit = logits.get(0, classIndex);
            JniUtils.backward((PtNDArray) logit, (PtNDArray) logit.onesLike(), false, false);
            JniUtils.setGradMode(false);
            float[] gradient = features.getGradient().toFloatArray();
            float[] activations = features.toFloatArray();
            clearParameterGradients(layers.subList(1, layers.size()));

            Shape shape = features.getShape();
            int channels = (int) shape.get(1);
            int h = (int) shape.get(2);
            int w = (int) shape.get(3);
            return new FeatureCam(w, h, weightedSum(activations, gradient, channels, h * w));
        } finally {
            JniUtils.setGradMode(gradWasOn);
        }
    }

    /** ReLU(sum_c a_c A_c) with a_c the spatial mean of the gradient of channel c. */
    static float[] weightedSum(float[] activations, float[] gradient, int channels, int plane) {
        double[] cam = new double[plane];
        for (int c = 0; c < channels; c++) {
            int base = c * plane;
            double weight = 0;
            for (int i = 0; i < plane; i++) {
                weight += gradient[base + i];
            }
            weight /= plane;
            if (weight == 0) {
                continue;
            }
            for (int i = 0; i < plane; i++) {
                cam[i] += weight * activations[base + i];
            }
        }
        float[] out = new float[plane];
        for (int i = 0; i < plane; i++) {
            out[i] = (float) Math.max(0, cam[i]);
        }
        return out;
    }

    /**
     * Bilinear upsampling with cell-centre alignment (each feature cell covers an equal patch of the image, as
     * PyTorch's {@code align_corners=False}), then division by the maximum; {@code peakActivation} keeps the
     * feature map's own maximum.
     */
    public static Heatmap upsample(FeatureCam cam, int outWidth, int outHeight) {
        if (outWidth <= 0 || outHeight <= 0) {
            throw new IllegalArgumentException("output size must be positive: " + outWidth + "x" + outHeight);
        }
        double peak = cam.max();
        float[] out = new float[outWidth * outHeight];
        if (peak <= 0) {
            return new Heatmap(outWidth, outHeight, out, 0);
        }
        int w = cam.width();
        int h = cam.height();
        float[] src = cam.values();
        for (int y = 0; y < outHeight; y++) {
            double sy = Math.min(Math.max((y + 0.5) * h / outHeight - 0.5, 0), h - 1);
            int y0 = (int) Math.floor(sy);
            int y1 = Math.min(y0 + 1, h - 1);
            double fy = sy - y0;
            for (int x = 0; x < outWidth; x++) {
                double sx = Math.min(Math.max((x + 0.5) * w / outWidth - 0.5, 0), w - 1);
                int x0 = (int) Math.floor(sx);
                int x1 = Math.min(x0 + 1, w - 1);
                double fx = sx - x0;
                double top = src[y0 * w + x0] + fx * (src[y0 * w + x1] - src[y0 * w + x0]);
                double bottom = src[y1 * w + x0] + fx * (src[y1 * w + x1] - src[y1 * w + x0]);
                out[y * outWidth + x] = (float) (top + fy * (bottom - top));
            }
        }
        // scaled after upsampling: no output pixel need sit on a cell centre, so the peak cell's value may not appear
        float max = 0;
        for (float v : out) {
            max = Math.max(max, v);
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= max;
        }
        return new Heatmap(outWidth, outHeight, out, peak);
    }

    /** Backbone first, then the head; fails clearly for a block of another shape. */
    private static List<Block> layers(Block classifier) {
        if (!(classifier instanceof SequentialBlock sequential)) {
            throw new IllegalArgumentException("Grad-CAM needs a classifier built by Networks.classifier, got "
                    + classifier.getClass().getSimpleName());
        }
        List<Block> layers = sequential.getChildren().values();
        if (layers.size() < 2 || !(layers.get(0) instanceof KerasBackbone)) {
            throw new IllegalArgumentException("Grad-CAM needs a backbone followed by a head, got " + layers.size()
                    + " layers starting with " + (layers.isEmpty() ? "nothing"
                    : layers.get(0).getClass().getSimpleName()));
        }
        return layers;
    }

    /**
     * Weights loaded for training require gradients, so the backward pass also fills the dense layer's gradient;
     * left there, it would add up over calls and leak into a later optimiser step of a trainer sharing the block.
     */
    private static void clearParameterGradients(List<Block> head) {
        for (Block layer : head) {
            for (Pair<String, Parameter> parameter : layer.getParameters()) {
                if (parameter.getValue().isInitialized()
                        && parameter.getValue().getArray() instanceof PtNDArray array
                        && JniUtils.requiresGrad(array)) {
                    JniUtils.zeroGrad(array);
                }
            }
        }
    }
}
