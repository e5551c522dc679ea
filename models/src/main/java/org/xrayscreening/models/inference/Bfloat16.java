package org.xrayscreening.models.inference;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Runs a float32-trained classifier in bfloat16.
 *
 * <p>DJL 0.36's PyTorch JNI maps only eight data types to torch's; asking it for bfloat16 ({@code toType},
 * {@code create}) ends in {@code std::terminate} (its dtype switch rethrows with no active exception) and kills
 * the JVM. Every op on a bf16 tensor that does not name a data type works, though. So the only cast to bf16
 * happens inside a two-line TorchScript function ({@code torch.to(x, 15)}, 15 = torch.bfloat16) that this class
 * writes to a temporary file and loads once; weights are cast through it at load time and each input batch
 * before the forward pass; the output comes back with DJL's own cast to float32, which the JNI supports.
 *
 * <p>Inside the network a bf16 tensor reports {@link DataType#UNKNOWN}; blocks that make constants shaped like
 * their input must therefore derive them from a tensor, not from {@code getDataType()} (see
 * {@code AvgPool2dSame}, {@code BatchNormNoScale}).
 */
public final class Bfloat16 implements AutoCloseable {
    /** torch.bfloat16's ScalarType number in TorchScript's serialized form. */
    private static final int TORCH_BFLOAT16 = 15;
    private static final String ARCHIVE = "cast_to_bfloat16";

    private final Model caster;
    private final Block castBlock;
    private final ParameterStore store;

    private Bfloat16(Model caster, NDManager manager) {
        this.caster = caster;
        this.castBlock = caster.getBlock();
        this.store = new ParameterStore(manager, false);
    }

    /** Loads the cast function; close it after the last {@link #cast} (it owns a small TorchScript module). */
    public static Bfloat16 open(NDManager manager) throws IOException {
        Path dir = Files.createTempDirectory("xray-bf16-");
        Path archive = dir.resolve(ARCHIVE + ".pt");
        try {
            try (OutputStream out = Files.newOutputStream(archive)) {
                writeCastArchive(out);
            }
            Model model = Model.newInstance(ARCHIVE, "PyTorch");
            try {
                model.load(dir, ARCHIVE);
            } catch (MalformedModelException | IOException | RuntimeException e) {
                model.close();
                throw new IOException("cannot load the bf16 cast function: " + e.getMessage(), e);
            }
            return new Bfloat16(model, manager);
        } finally {
            // torch has read the archive into memory; nothing needs the file any more
            Files.deleteIfExists(archive);
            Files.deleteIfExists(dir);
        }
    }

    /** {@code x} as bfloat16 (a new array in x's manager). */
    public NDArray cast(NDArray x) {
        NDArray y = castBlock.forward(store, new NDList(x), false).singletonOrThrow();
        y.attach(x.getManager());
        return y;
    }

    /**
     * A bf16 copy of {@code trained} (same architecture, already initialized with fp32 weights), built on
     * {@code fresh}, an uninitialized block of the same architecture: every parameter is cast and set, so
     * {@code fresh} is initialized without running any initializer.
     */
    public Block copyToBfloat16(Block trained, Block fresh, NDManager manager, Shape inputShape) {
        PairList<String, Parameter> from = trained.getParameters();
        PairList<String, Parameter> to = fresh.getParameters();
        if (from.size() != to.size()) {
            throw new IllegalArgumentException("blocks differ: " + from.size() + " vs " + to.size() + " parameters");
        }
        for (int i = 0; i < from.size(); i++) {
            Pair<String, Parameter> f = from.get(i);
            Pair<String, Parameter> t = to.get(i);
            if (!f.getKey().equals(t.getKey())) {
                throw new IllegalArgumentException("parameter " + i + " is " + f.getKey() + " vs " + t.getKey());
            }
            // TorchScript runs in inference mode, so its outputs are inference tensors, which may never be
            // marked as requiring gradients (DJL does so when it initializes a parameter): keep a plain copy
            try (NDArray inference = cast(f.getValue().getArray())) {
                NDArray bf16 = inference.duplicate();
                bf16.attach(manager);
                t.getValue().setArray(bf16);
            }
        }
        // an inference-only copy: nothing may train it
        fresh.freezeParameters(true);
        // all parameters are set, so this only computes shapes: no initializer runs, no fp32 weights are made
        fresh.initialize(manager, DataType.FLOAT32, inputShape);
        return new Bf16Classifier(fresh, this);
    }

    @Override
    public void close() {
        caster.close();
    }

    /** float32 in, float32 out; bfloat16 inside. */
    static final class Bf16Classifier extends AbstractBlock {
        private final Block network;
        private final Bfloat16 bf16;

        Bf16Classifier(Block network, Bfloat16 bf16) {
            this.network = addChildBlock("network", network);
            this.bf16 = bf16;
        }

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
                                         PairList<String, Object> params) {
            NDArray x = bf16.cast(inputs.singletonOrThrow());
            NDArray logits = network.forward(parameterStore, new NDList(x), training, params).singletonOrThrow();
            return new NDList(logits.toType(DataType.FLOAT32, false));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return network.getOutputShapes(inputShapes);
        }
    }

    /**
     * The TorchScript archive of {@code forward(x) = torch.to(x, torch.bfloat16)}, byte for byte what
     * {@code torch.jit.save} writes for such a module (format version 3): the module's code, a pickled instance
     * with no parameters, and an empty constants table. Written here rather than committed as a binary file.
     */
    static void writeCastArchive(OutputStream out) throws IOException {
        String cls = "CastToBfloat16";
        String code = "class " + cls + "(Module):\n"
                + "  __parameters__ = []\n"
                + "  __buffers__ = []\n"
                + "  training : bool\n"
                + "  def forward(self: __torch__." + cls + ",\n"
                + "    x: Tensor) -> Tensor:\n"
                + "    return torch.to(x, " + TORCH_BFLOAT16 + ")\n";
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        data.write(new byte[] {(byte) 0x80, 2});                        // PROTO 2
        data.write(("c__torch__\n" + cls + "\n").getBytes(StandardCharsets.US_ASCII)); // GLOBAL
        data.write(new byte[] {')', (byte) 0x81, '}', '('});             // EMPTY_TUPLE NEWOBJ EMPTY_DICT MARK
        byte[] training = "training".getBytes(StandardCharsets.US_ASCII);
        data.write('X');                                                  // BINUNICODE "training"
        data.write(new byte[] {(byte) training.length, 0, 0, 0});
        data.write(training);
        data.write(new byte[] {(byte) 0x88, 'u', 'b', '.'});             // NEWTRUE SETITEMS BUILD STOP
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            for (var entry : List.of(
                    new Object[] {"data.pkl", data.toByteArray()},
                    new Object[] {"code/__torch__.py", code.getBytes(StandardCharsets.UTF_8)},
                    new Object[] {"constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}},
                    new Object[] {"version", "3\n".getBytes(StandardCharsets.US_ASCII)})) {
                zip.putNextEntry(new ZipEntry(ARCHIVE + "/" + entry[0]));
                zip.write((byte[]) entry[1]);
                zip.closeEntry();
            }
        }
    }
}
