package org.xrayscreening.trainer.training;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.optimizer.Optimizer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Adadelta as Keras implements it (the paper's optimizer): {@code a = rho a + (1 - rho) g^2};
 * {@code u = g sqrt(d + eps) / sqrt(a + eps)}; {@code w -= lr u}; {@code d = rho d + (1 - rho) u^2}. DJL's own
 * Adadelta is not implemented by the PyTorch engine ("AdaDelta optimzier is not supported"), so this one uses
 * plain NDArray operations, with grad mode off so that the in-place updates are not recorded.
 */
public final class KerasAdadelta extends Optimizer {
    private final float learningRate;
    private final float rho;
    private final float epsilon;
    private final Map<String, Map<Device, NDArray>> accumulatedGrad = new ConcurrentHashMap<>();
    private final Map<String, Map<Device, NDArray>> accumulatedDelta = new ConcurrentHashMap<>();

    public KerasAdadelta(float learningRate, float rho, float epsilon) {
        super(new Builder());
        this.learningRate = learningRate;
        this.rho = rho;
        this.epsilon = epsilon;
    }

    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            NDArray a = withDefaultState(accumulatedGrad, parameterId, weight.getDevice(), k -> weight.zerosLike());
            NDArray d = withDefaultState(accumulatedDelta, parameterId, weight.getDevice(), k -> weight.zerosLike());
            a.muli(rho).addi(grad.square().muli(1 - rho));
            NDArray u = grad.mul(d.add(epsilon).sqrt()).divi(a.add(epsilon).sqrt());
            weight.subi(u.mul(learningRate));
            d.muli(rho).addi(u.square().muli(1 - rho));
            grad.subi(grad); // the next backward pass must start from zero
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    private static final class Builder extends OptimizerBuilder<Builder> {
        @Override
        protected Builder self() {
            return this;
        }
    }
}
