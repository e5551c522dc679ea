package org.xrayscreening.trainer.dataset;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.NoopTranslator;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import com.github.jaiimageio.jpeg2000.J2KImageWriteParam;
import com.github.jaiimageio.jpeg2000.impl.J2KImageWriterSpi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.image.DicomWriter;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.connectors.image.Dcmtk;
import org.xrayscreening.connectors.image.DicomEncodings;

/**
 * Issue 13's agreement test: one synthetic chest X-ray, written as PNG, JPEG and DICOM in every supported
 * encoding (8/12/16 bits, MONOCHROME1/2, signed, rescaled, implicit/explicit VR little endian, explicit VR big
 * endian, JPEG baseline/extended/lossless process 14/SV1, multi-fragment, JPEG 2000 lossless/lossy, RLE),
 * listed in one manifest and read through the trainer's own loader ({@link Dataset} + {@link PreparedImages},
 * which decode with the connectors' ImageDecoder exactly as the stream job does), gives model-input tensors and
 * probabilities of a real network (MobileNet classifier, fixed random init, 64 px) within 0.01 of the PNG's.
 * Lossless encodings give exactly the PNG's tensor.
 */
class DicomAgreementTest {

    private static final int INPUT = 64;
    private static final int SIZE = 192;
    private static Model model;

    @TempDir
    static Path dir;

    @BeforeAll
    static void model() {
        Engine.getInstance().setRandomSeed(1234);
        model = Model.newInstance("agreement");
        model.setBlock(Networks.classifier(Architecture.MOBILENET, 2));
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, INPUT, INPUT));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    /** P(class 0) for each CHW input, one call each, inputs in a per-call manager. */
    private static float[] probabilities(List<float[]> inputs) throws Exception {
        float[] out = new float[inputs.size()];
        try (Predictor<NDList, NDList> p = model.newPredictor(new NoopTranslator())) {
            for (int i = 0; i < inputs.size(); i++) {
                try (NDManager m = model.getNDManager().newSubManager()) {
                    NDArray x = m.create(inputs.get(i), new Shape(1, 3, INPUT, INPUT));
                    float[] logits = p.predict(new NDList(x)).head().toFloatArray();
                    double e0 = Math.exp(logits[0] - Math.max(logits[0], logits[1]));
                    double e1 = Math.exp(logits[1] - Math.max(logits[0], logits[1]));
                    out[i] = (float) (e0 / (e0 + e1));
                }
            }
        }
        return out;
    }

    @Test
    void everyEncodingScoresWithin001OfThePng() throws Exception {
        BufferedImage g8 = SyntheticChestXray.positive(5, SIZE).gray8();
        Map<String, byte[]> files = new LinkedHashMap<>();
        Map<String, Boolean> lossless = new LinkedHashMap<>();
        files.put("x.png", encode(g8, "png"));
        lossless.put("x.png", true);
        files.put("x.jpg", encode(g8, "jpeg"));
        lossless.put("x.jpg", false);

        Map<String, byte[]> bases = bases(g8);
        for (Map.Entry<String, byte[]> b : bases.entrySet()) {
            String base = b.getKey();
            add(files, lossless, base + "-explicit-le.dcm", b.getValue(), true);
            add(files, lossless, base + "-j2k-lossless.dcm", jpeg2000Of(base, g8, true), true);
            if (Dcmtk.available()) {
                add(files, lossless, base + "-implicit-le.dcm", Dcmtk.convert(b.getValue(), "dcmconv", "+ti"), true);
                add(files, lossless, base + "-explicit-be.dcm", Dcmtk.convert(b.getValue(), "dcmconv", "+tb"), true);
                add(files, lossless, base + "-jpeg-lossless-p14.dcm",
                        Dcmtk.convert(b.getValue(), "dcmcjpeg", "+el"), true);
                add(files, lossless, base + "-jpeg-lossless-sv1.dcm",
                        Dcmtk.convert(b.getValue(), "dcmcjpeg", "+e1"), true);
                add(files, lossless, base + "-jpeg-lossless-sv1-fragments.dcm",
                        Dcmtk.convert(b.getValue(), "dcmcjpeg", "+e1", "+fs", "4", "-ot"), true);
                add(files, lossless, base + "-rle.dcm", Dcmtk.convert(b.getValue(), "dcmcrle"), true);
                if (base.startsWith("8bit")) {
                    add(files, lossless, base + "-jpeg-baseline.dcm", Dcmtk.convert(b.getValue(), "dcmcjpeg", "+eb"),
                            false);
                }
                if (base.startsWith("8bit") || base.startsWith("12bit")) {
                    // 12-bit: lossy DCT with 12-bit samples, the usual lossy CR/DX encoding (TwelveBitJpeg)
                    add(files, lossless, base + "-jpeg-extended.dcm", Dcmtk.convert(b.getValue(), "dcmcjpeg", "+ee"),
                            false);
                }
            }
        }
        add(files, lossless, "12bit-mono2-j2k-lossy.dcm", jpeg2000Of("12bit-mono2", g8, false), false);

        // one manifest, read by the trainer's loader
        StringBuilder manifest = new StringBuilder("file,label\n");
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Files.write(dir.resolve(f.getKey()), f.getValue());
            manifest.append(f.getKey()).append(",covid\n");
        }
        Files.writeString(dir.resolve(Dataset.MANIFEST), manifest);
        Dataset dataset = Dataset.fromManifest(dir.resolve(Dataset.MANIFEST));
        assertThat(dataset.problems()).isEmpty();
        Preprocessor pre = Preprocessor.forArchitecture(Architecture.MOBILENET, INPUT);
        PreparedImages prepared = PreparedImages.load(dataset.entries(), pre);
        assertThat(prepared.skipped()).isEmpty();
        assertThat(prepared.size()).isEqualTo(files.size());

        List<float[]> inputs = new ArrayList<>(prepared.inputs());
        // what the old decoder made of a 12-bit image (0..4095 read as a 16-bit range), and an uninverted
        // MONOCHROME1: the model must tell these apart from the PNG, or the agreement would prove nothing
        inputs.add(pre.toChw(DicomEncodings.twelveBit(g8)));
        inputs.add(pre.toChw(inverted(g8)));
        float[] p = probabilities(inputs);
        int png = indexOf(prepared, "x.png");
        float reference = p[png];
        float[] pngTensor = prepared.input(png);
        StringBuilder report = new StringBuilder();
        for (int i = 0; i < prepared.size(); i++) {
            String name = prepared.entry(i).name();
            report.append(String.format("%-44s p=%.5f  max|dx|=%.4f%n", name, p[i], maxDiff(prepared.input(i),
                    pngTensor)));
        }
        report.append(String.format("%-44s p=%.5f%n", "(12-bit read as 16-bit range, old decoder)", p[prepared.size()]));
        report.append(String.format("%-44s p=%.5f%n", "(MONOCHROME1 not inverted)", p[prepared.size() + 1]));
        System.out.println(report);
        for (int i = 0; i < prepared.size(); i++) {
            String name = prepared.entry(i).name();
            assertThat(Math.abs(p[i] - reference)).as(name + "\n" + report).isLessThanOrEqualTo(0.01f);
            if (lossless.get(name)) {
                assertThat(prepared.input(i)).as(name).containsExactly(pngTensor);
            }
        }
        float misread = p[prepared.size()];
        float uninverted = p[prepared.size() + 1];
        assertThat(Math.abs(misread - reference)).as("old 12-bit reading").isGreaterThan(0.01f);
        assertThat(Math.abs(uninverted - reference)).as("MONOCHROME1 not inverted").isGreaterThan(0.01f);
        if (Dcmtk.available()) {
            // the case issue 13 names: 12-bit MONOCHROME1 JPEG lossless against its PNG
            assertThat(files).containsKey("12bit-mono1-jpeg-lossless-sv1.dcm");
            assertThat(files).containsKey("12bit-mono1-jpeg-lossless-p14.dcm");
            // and 12-bit lossy JPEG (DCT), the usual lossy CR/DX encoding
            assertThat(files).containsKey("12bit-mono1-jpeg-extended.dcm");
        }
    }

    private static void add(Map<String, byte[]> files, Map<String, Boolean> lossless, String name, byte[] b,
            boolean isLossless) {
        files.put(name, b);
        lossless.put(name, isLossless);
    }

    private static int indexOf(PreparedImages prepared, String name) {
        for (int i = 0; i < prepared.size(); i++) {
            if (prepared.entry(i).name().equals(name)) {
                return i;
            }
        }
        throw new AssertionError(name + " not prepared");
    }

    private static float maxDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    // --------------------------------------------------------------------------------- the encodings

    /**
     * The pixel-module variants, Explicit VR Little Endian, each with the window in its header that maps it
     * back onto the 8-bit image (as a detector's "for presentation" image carries its window).
     */
    static Map<String, byte[]> bases(BufferedImage g8) {
        // DicomEncodings' bases, named as file names: "12-bit MONOCHROME1" -> "12bit-mono1"
        Map<String, byte[]> m = new LinkedHashMap<>();
        DicomEncodings.bases(g8).forEach((name, dcm) -> m.put(
                name.replace("-bit ", "bit-").replace("MONOCHROME", "mono").replace(' ', '-'), dcm));
        return m;
    }

    private static int twelve(int v8) {
        return (int) Math.round(v8 * 4095.0 / 255.0);
    }

    /** The base's image as JPEG 2000 in DICOM (unsigned bases; the signed one goes as its 16-bit twin). */
    private static byte[] jpeg2000Of(String base, BufferedImage g8, boolean lossless) throws Exception {
        byte[] g = DicomEncodings.pixels(g8);
        int w = g8.getWidth();
        int h = g8.getHeight();
        String ts = lossless ? "1.2.840.10008.1.2.4.90" : "1.2.840.10008.1.2.4.91";
        boolean mono1 = base.contains("mono1");
        if (base.startsWith("8bit")) {
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
            for (int i = 0; i < g.length; i++) {
                int v = g[i] & 0xFF;
                img.getRaster().setSample(i % w, i / w, 0, mono1 ? 255 - v : v);
            }
            return DicomWriter.gray8(w, h, new byte[g.length]).monochrome1(mono1)
                    .encapsulated(ts, DicomEncodings.jpeg2000(img, lossless), 0).toBytes();
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        boolean twelveBit = base.startsWith("12bit");
        for (int i = 0; i < g.length; i++) {
            int v = g[i] & 0xFF;
            int s = twelveBit ? twelve(v) : v * 257;
            img.getRaster().setSample(i % w, i / w, 0, mono1 ? 4095 - s : s);
        }
        DicomWriter writer = DicomWriter.gray16(w, h, new short[g.length]).monochrome1(mono1);
        if (base.equals("12bit-rescaled")) {
            writer.bitsStored(12).rescale(-1000, 2).window(3095.5, 8191);
        } else if (twelveBit) {
            writer.bitsStored(12).window(2048, 4096);
        } else {
            writer.window(32768, 65536);
        }
        return writer.encapsulated(ts, DicomEncodings.jpeg2000(img, lossless), 3000).toBytes();
    }

    private static byte[] encode(BufferedImage img, String format) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(ImageIO.write(img, format, out)).isTrue();
        return out.toByteArray();
    }

    private static BufferedImage inverted(BufferedImage g8) {
        byte[] g = DicomEncodings.pixels(g8);
        BufferedImage out = new BufferedImage(g8.getWidth(), g8.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        for (int i = 0; i < g.length; i++) {
            out.getRaster().setSample(i % g8.getWidth(), i / g8.getWidth(), 0, 255 - (g[i] & 0xFF));
        }
        return out;
    }
}
