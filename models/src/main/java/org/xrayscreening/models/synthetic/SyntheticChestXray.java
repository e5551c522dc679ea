package org.xrayscreening.models.synthetic;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferUShort;
import java.util.Random;

/**
 * A deterministic generator of synthetic frontal chest X-rays, so that tests, the demo and benchmarks never
 * need a real (patient) image.
 *
 * <p>The picture is computed pixel by pixel from the seed with plain arithmetic (no Graphics2D, whose
 * anti-aliasing may differ between JDKs), so the same seed and size give the same pixels everywhere. It has a
 * body outline with soft tissue, a mediastinum and spine, two dark lung fields, ribs crossing them, a
 * diaphragm dome, and film noise. The {@linkplain #positive positive} variant adds patchy bilateral
 * ground-glass opacities in the lower and peripheral lung zones: the typical COVID-19 pattern, and a visible
 * enough one for a small CNN to learn in a few demo epochs. Anatomy (size, position, rib spacing, contrast)
 * varies with the seed, so a model cannot just memorise one picture.
 */
public final class SyntheticChestXray {

    private final long seed;
    private final int size;
    private final boolean positive;

    private SyntheticChestXray(long seed, int size, boolean positive) {
        if (size < 16 || size > 4096) {
            throw new IllegalArgumentException("size must be in [16, 4096], was " + size);
        }
        this.seed = seed;
        this.size = size;
        this.positive = positive;
    }

    /** A study without findings. */
    public static SyntheticChestXray negative(long seed, int size) {
        return new SyntheticChestXray(seed, size, false);
    }

    /** A study with patchy bilateral opacities. */
    public static SyntheticChestXray positive(long seed, int size) {
        return new SyntheticChestXray(seed, size, true);
    }

    public static SyntheticChestXray of(long seed, int size, boolean positive) {
        return new SyntheticChestXray(seed, size, positive);
    }

    public boolean isPositive() {
        return positive;
    }

    /** 8-bit grayscale (TYPE_BYTE_GRAY), as most PNG/JPEG exports. */
    public BufferedImage gray8() {
        double[] intensity = render();
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_BYTE_GRAY);
        byte[] pixels = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) Math.round(intensity[i] * 255.0);
        }
        return image;
    }

    /** 16-bit grayscale (TYPE_USHORT_GRAY) using the full range, as DICOM detectors deliver. */
    public BufferedImage gray16() {
        double[] intensity = render();
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_USHORT_GRAY);
        short[] pixels = ((DataBufferUShort) image.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (short) Math.round(intensity[i] * 65535.0);
        }
        return image;
    }

    /**
     * The lung fields this image draws, as a binary mask of the same size (TYPE_BYTE_BINARY: 1 inside a lung):
     * the ground truth a lung-mask metric or a segmentation test needs. A pixel is inside where the drawn lung's
     * soft edge is past its midpoint (its centre lies inside the lung's ellipse); the same seed and size give the
     * same mask everywhere, positive or negative (opacities do not move the lungs).
     */
    public BufferedImage lungMask() {
        boolean[] inside = lungField();
        BufferedImage mask = new BufferedImage(size, size, BufferedImage.TYPE_BYTE_BINARY);
        java.awt.image.WritableRaster raster = mask.getRaster();
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                raster.setSample(x, y, 0, inside[y * size + x] ? 1 : 0);
            }
        }
        return mask;
    }

    /** Row-major: true where a pixel lies inside a lung field (see {@link #lungMask()}). */
    public boolean[] lungField() {
        Anatomy a = Anatomy.draw(new Random(randomSeed()), size);
        boolean[] inside = new boolean[size * size];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                inside[y * size + x] = a.lung(x + 0.5, y + 0.5) > 0.5;
            }
        }
        return inside;
    }

    private long randomSeed() {
        return seed * 0x9E3779B97F4A7C15L + 17;
    }

    /** The seed's anatomy; drawn first from the image's random stream, so the mask and the picture agree. */
    private record Anatomy(double s, double cx, double bodyRx, double bodyRy, double lungRx, double lungRy,
            double lungCy, double lungDx, double ribSpacing, double ribPhase, double contrast, double exposure) {
        static Anatomy draw(Random random, int size) {
            double s = size;
            double cx = s * (0.5 + 0.03 * (random.nextDouble() - 0.5));
            double bodyRx = s * (0.40 + 0.05 * random.nextDouble());
            double bodyRy = s * (0.52 + 0.05 * random.nextDouble());
            double lungRx = s * (0.13 + 0.03 * random.nextDouble());
            double lungRy = s * (0.27 + 0.04 * random.nextDouble());
            double lungCy = s * (0.45 + 0.04 * (random.nextDouble() - 0.5));
            double lungDx = s * (0.17 + 0.02 * random.nextDouble());
            double ribSpacing = s * (0.065 + 0.015 * random.nextDouble());
            double ribPhase = random.nextDouble() * ribSpacing;
            double contrast = 0.85 + 0.3 * random.nextDouble();
            double exposure = 0.9 + 0.2 * random.nextDouble();
            return new Anatomy(s, cx, bodyRx, bodyRy, lungRx, lungRy, lungCy, lungDx, ribSpacing, ribPhase, contrast,
                    exposure);
        }

        /** How much of a lung the point is in, 0 to 1 (soft edge). */
        double lung(double px, double py) {
            double lungLeft = smoothInside(px - (cx - lungDx), py - lungCy, lungRx, lungRy, s * 0.03);
            double lungRight = smoothInside(px - (cx + lungDx), py - lungCy, lungRx, lungRy, s * 0.03);
            return Math.max(lungLeft, lungRight);
        }
    }

    /** Row-major intensities in [0, 1]; bright = dense (bone, opacity), dark = air, as on a radiograph. */
    double[] render() {
        Random random = new Random(randomSeed());
        double s = size;
        // Anatomy that varies per seed.
        Anatomy a = Anatomy.draw(random, size);
        double cx = a.cx();
        double bodyRx = a.bodyRx();
        double bodyRy = a.bodyRy();
        double lungRx = a.lungRx();
        double lungRy = a.lungRy();
        double lungCy = a.lungCy();
        double lungDx = a.lungDx();
        double ribSpacing = a.ribSpacing();
        double ribPhase = a.ribPhase();
        double contrast = a.contrast();
        double exposure = a.exposure();

        Opacity[] opacities = positive ? opacities(random, cx, lungCy, lungDx, lungRx, lungRy) : new Opacity[0];
        double[] noise = new double[size * size];
        for (int i = 0; i < noise.length; i++) {
            noise[i] = random.nextGaussian();
        }

        double[] out = new double[size * size];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                double px = x + 0.5;
                double py = y + 0.5;
                double body = smoothInside(px - cx, py - s * 0.55, bodyRx, bodyRy, s * 0.04);
                double v = 0.08 + 0.45 * body; // air around the patient is dark, soft tissue grey
                double lung = a.lung(px, py);
                v -= 0.30 * lung * contrast; // aerated lung is radiolucent
                // Mediastinum and spine: a bright vertical band between the lungs.
                double spine = Math.exp(-Math.pow((px - cx) / (s * 0.045), 2)) * body;
                v += 0.22 * spine;
                // Ribs: bright arcs, visible mostly over the lungs.
                double arc = py + 0.35 * Math.pow((px - cx) / s, 2) * s * 1.6 - ribPhase;
                double rib = Math.pow(Math.max(0, Math.cos(2 * Math.PI * arc / ribSpacing)), 6);
                v += 0.12 * rib * Math.max(lung, 0.3 * body);
                // Diaphragm: below the lung bases everything is soft-tissue dense.
                double diaphragmY = lungCy + lungRy * 0.85 - s * 0.05 * Math.cos((px - cx) / (s * 0.35));
                if (py > diaphragmY) {
                    v += 0.18 * body * Math.min(1, (py - diaphragmY) / (s * 0.03));
                }
                for (Opacity o : opacities) {
                    double d2 = (Math.pow(px - o.x, 2) + Math.pow(py - o.y, 2)) / (o.r * o.r);
                    v += o.strength * Math.exp(-d2) * lung;
                }
                v = v * exposure + 0.025 * noise[y * size + x];
                out[y * size + x] = Math.min(1.0, Math.max(0.0, v));
            }
        }
        return out;
    }

    /** Patchy, bilateral, lower- and peripheral-zone predominant ground-glass opacities. */
    private Opacity[] opacities(Random random, double cx, double lungCy, double lungDx, double lungRx, double lungRy) {
        int count = 6 + random.nextInt(6);
        Opacity[] result = new Opacity[count];
        for (int i = 0; i < count; i++) {
            double side = (i % 2 == 0) ? -1 : 1; // alternate sides: always bilateral
            double ox = cx + side * (lungDx + lungRx * (0.1 + 0.6 * random.nextDouble()));
            double oy = lungCy + lungRy * (-0.1 + 0.8 * random.nextDouble());
            double r = size * (0.05 + 0.05 * random.nextDouble());
            double strength = 0.22 + 0.14 * random.nextDouble();
            result[i] = new Opacity(ox, oy, r, strength);
        }
        return result;
    }

    /** 1 inside the ellipse, 0 outside, with a soft edge of the given width. */
    private static double smoothInside(double dx, double dy, double rx, double ry, double edge) {
        double r = Math.sqrt((dx * dx) / (rx * rx) + (dy * dy) / (ry * ry));
        double distance = (r - 1.0) * Math.min(rx, ry);
        return 1.0 / (1.0 + Math.exp(distance / (edge / 4.0)));
    }

    private record Opacity(double x, double y, double r, double strength) {}
}
