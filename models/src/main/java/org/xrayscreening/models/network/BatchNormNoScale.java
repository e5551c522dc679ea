package org.xrayscreening.models.network;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * Batch normalization over the channel axis (1, NCHW) without a scale: Keras
 * {@code BatchNormalization(scale=False)}, as InceptionV3 uses it.
 *
 * <p>Why not DJL's {@link BatchNorm} with {@code optScale(false)}: in DJL 0.36 that still allocates a gamma
 * parameter (only marked not trainable) and still multiplies by it, so the parameter count would include
 * gamma and an importer would have to fill it with ones. This block owns exactly Keras' variables, in Keras'
 * order: {@code beta}, {@code runningMean} (moving_mean), {@code runningVar} (moving_variance). The forward pass
 * uses the same kernel as DJL's batch norm with a gamma of ones made on the fly.
 *
 * <p>Momentum follows Keras' convention (running = momentum * running + (1 - momentum) * batch), which is also
 * DJL's; Keras' default is 0.99.
 */
public final class BatchNormNoScale extends AbstractBlock {
    private static final byte VERSION = 1;
    private static final int AXIS = 1;

    private final float epsilon;
    private final float momentum;
    private long channels;

    private final Parameter beta;
    private final Parameter runningMean;
    private final Parameter runningVar;

    public BatchNormNoScale(float epsilon, float momentum) {
        super(VERSION);
        this.epsilon = epsilon;
        this.momentum = momentum;
        beta = addParameter(Parameter.builder().setName("beta").setType(Parameter.Type.BETA).build());
        runningMean = addParameter(Parameter.builder()
                .setName("runningMean").setType(Parameter.Type.RUNNING_MEAN).optRequiresGrad(false).build());
        runningVar = addParameter(Parameter.builder()
                .setName("runningVar").setType(Parameter.Type.RUNNING_VAR).optRequiresGrad(false).build());
    }

    public float epsilon() {
        return epsilon;
    }

    public float momentum() {
        return momentum;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        Device device = x.getDevice();
        NDArray betaValue = parameterStore.getValue(beta, device, training);
        NDArray mean = parameterStore.getValue(runningMean, device, training);
        NDArray var = parameterStore.getValue(runningVar, device, training);
        // a bf16 network (inference.Bfloat16) reports UNKNOWN and DJL cannot create arrays of it: derive from beta
        NDArray ones = x.getDataType() == DataType.UNKNOWN
                ? betaValue.mul(0).add(1)
                : x.getManager().ones(new Shape(channels), x.getDataType(), device);
        return BatchNorm.batchNorm(x, mean, var, ones, betaValue, AXIS, momentum, epsilon, training);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void beforeInitialize(Shape... inputShapes) {
        super.beforeInitialize(inputShapes);
        channels = inputShapes[0].get(AXIS);
    }

    @Override
    public void prepare(Shape[] inputShapes) {
        beta.setShape(new Shape(channels));
        runningMean.setShape(new Shape(channels));
        runningVar.setShape(new Shape(channels));
    }

    @Override
    protected void saveMetadata(DataOutputStream os) throws IOException {
        saveInputShapes(os);
        os.writeLong(channels);
    }

    @Override
    public void loadMetadata(byte loadVersion, DataInputStream is) throws IOException, MalformedModelException {
        if (loadVersion != VERSION) {
            throw new MalformedModelException("Unsupported encoding version: " + loadVersion);
        }
        readInputShapes(is);
        channels = is.readLong();
    }
}
