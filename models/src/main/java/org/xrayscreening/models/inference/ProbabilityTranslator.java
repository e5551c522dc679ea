package org.xrayscreening.models.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import java.util.ArrayList;
import java.util.List;
import org.xrayscreening.models.preprocess.Preprocessor;

/**
 * Preprocessed CHW floats in, P(class 0 = COVID-19) out. A real Translator (not NoopTranslator), so the
 * input and every intermediate tensor live in the per-call context manager and are freed after each call.
 */
final class ProbabilityTranslator implements Translator<float[], Float> {
    private final Preprocessor preprocessor;

    ProbabilityTranslator(Preprocessor preprocessor) {
        this.preprocessor = preprocessor;
    }

    /** One (N, 3, S, S) tensor from one copy, instead of N tensors and a stack. */
    @Override
    public NDList batchProcessInput(TranslatorContext ctx, List<float[]> inputs) {
        checkGradModeOff();
        int length = preprocessor.length();
        float[] batch = new float[inputs.size() * length];
        for (int i = 0; i < inputs.size(); i++) {
            float[] chw = inputs.get(i);
            preprocessor.checkLength(chw);
            System.arraycopy(chw, 0, batch, i * length, length);
        }
        int s = preprocessor.inputSize();
        return new NDList(ctx.getNDManager().create(batch, new Shape(inputs.size(), 3, s, s)));
    }

    @Override
    public List<Float> batchProcessOutput(TranslatorContext ctx, NDList list) {
        NDArray logits = list.head();
        Shape shape = logits.getShape();
        if (shape.dimension() != 2 || shape.get(1) < 2) {
            throw new IllegalStateException("expected (N, classes) logits, got " + shape);
        }
        int n = (int) shape.get(0);
        int k = (int) shape.get(1);
        float[] values = logits.toFloatArray();
        List<Float> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(softmaxFirst(values, i * k, k));
        }
        return out;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, float[] input) {
        checkGradModeOff();
        preprocessor.checkLength(input);
        return new NDList(preprocessor.toNDArray(input, ctx.getNDManager()));
    }

    @Override
    public Float processOutput(TranslatorContext ctx, NDList list) {
        float[] logits = list.head().toFloatArray();
        return softmaxFirst(logits, 0, logits.length);
    }

    /**
     * Runs on the predicting thread, just before the forward pass. With grad mode on, autograd records the
     * forward pass of any weights that require gradients (e.g. a model fresh from a Trainer) and keeps every
     * intermediate alive; CovidClassifier turns it off per call, so this only fires if that is broken.
     * (NDArray.hasGradient() cannot be used to detect it: DJL reports false for op results that do carry a
     * grad_fn.)
     */
    private static void checkGradModeOff() {
        if (JniUtils.isGradMode()) {
            throw new IllegalStateException("grad mode is on for inference on thread " + Thread.currentThread().getName());
        }
    }

    /** softmax(logits)[0] = 1 / sum_j exp(l_j - l_0), stable for any logit magnitude. */
    static float softmaxFirst(float[] logits, int offset, int k) {
        double l0 = logits[offset];
        double sum = 0;
        for (int j = 0; j < k; j++) {
            sum += Math.exp(logits[offset + j] - l0);
        }
        return (float) (1.0 / sum);
    }
}
