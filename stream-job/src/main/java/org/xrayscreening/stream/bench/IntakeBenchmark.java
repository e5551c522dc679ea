package org.xrayscreening.stream.bench;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.Locale;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.image.DicomWriter;
import org.xrayscreening.connectors.image.ImageDecoder;
import org.xrayscreening.models.NativeRuntime;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.connectors.image.CanonicalImage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What the intake operator costs per study, apart from fetching: decode plus the canonical 16-bit resize, for a
 * 320x320 JPEG (the size of the training data) and a full-size 12-bit DICOM as a detector writes it. Sizing
 * (docs/capacity.md) needs this next to the models' cost.
 */
@Command(name = "intake-benchmark", mixinStandardHelpOptions = true,
        description = "ms per image for decode + canonical resize: 320 px JPEG and a large 12-bit DICOM.")
public final class IntakeBenchmark implements Callable<Integer> {
    @Option(names = "--dicom-size", defaultValue = "2500x3000", description = "WIDTHxHEIGHT of the DICOM (default: ${DEFAULT-VALUE})")
    String dicomSize;

    @Option(names = "--seconds", defaultValue = "3", description = "Seconds per measurement (default: ${DEFAULT-VALUE})")
    double seconds;

    @Option(names = "--rounds", defaultValue = "3", description = "Rounds, alternating the two (default: ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--canonical-max-side", defaultValue = "512", description = "The job's --canonical-max-side (default: ${DEFAULT-VALUE})")
    int canonicalMaxSide;

    @Override
    public Integer call() throws Exception {
        ImageDecoder decoder = new ImageDecoder();
        ByteArrayOutputStream jpeg = new ByteArrayOutputStream();
        ImageIO.write(SyntheticChestXray.of(1, 320, true).gray8(), "jpg", jpeg);
        String[] wh = dicomSize.toLowerCase(Locale.ROOT).split("x");
        int w = Integer.parseInt(wh[0]);
        int h = Integer.parseInt(wh[1]);
        var source = SyntheticChestXray.of(2, Math.max(w, h), true).gray16().getRaster();
        short[] pixels = new short[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                pixels[y * w + x] = (short) (source.getSample(x, y, 0) >> 4); // 12 bits stored
            }
        }
        byte[] dicom = DicomWriter.gray16(w, h, pixels).bitsStored(12).toBytes();
        System.out.printf(Locale.ROOT, "%s; JPEG %d bytes, DICOM %dx%d 12-bit %d bytes%n", NativeRuntime.cpu(),
                jpeg.size(), w, h, dicom.length);
        for (int round = 1; round <= rounds; round++) {
            double jpegMs = msPerImage(decoder, jpeg.toByteArray(), ImageReference.JPEG);
            double dicomMs = msPerImage(decoder, dicom, ImageReference.DICOM);
            System.out.printf(Locale.ROOT, "round %d: 320x320 JPEG %.2f ms; %dx%d 12-bit DICOM %.1f ms%n", round,
                    jpegMs, w, h, dicomMs);
        }
        return 0;
    }

    private double msPerImage(ImageDecoder decoder, byte[] bytes, String contentType) throws Exception {
        long start = System.nanoTime();
        int n = 0;
        while (n < 3 || System.nanoTime() - start < seconds * 1e9) {
            BufferedImage image = decoder.decode(bytes, contentType);
            CanonicalImage.toGray16(image, canonicalMaxSide);
            n++;
        }
        return (System.nanoTime() - start) / 1e6 / n;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new IntakeBenchmark()).execute(args));
    }
}
