package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.InvalidEventException;

/** The claim-check allow-list: file roots, URL prefixes and the address rules, without any network access. */
class ImageSourcePolicyTest {

    static final String SECRET = "PAT-4711";

    @TempDir
    Path tmp;

    /** Resolves only names from this map (plus IP literals, which InetAddress parses without DNS). */
    static ImageSourcePolicy.Resolver fakeDns(Map<String, String[]> answers) {
        return host -> {
            String[] ips = answers.get(host);
            if (ips == null) {
                if (host.chars().allMatch(c -> Character.isDigit(c) || c == '.' || c == ':'
                        || (c >= 'a' && c <= 'f'))) {
                    return InetAddress.getAllByName(host);
                }
                throw new UnknownHostException("not in the test's DNS");
            }
            InetAddress[] out = new InetAddress[ips.length];
            for (int i = 0; i < ips.length; i++) {
                out[i] = InetAddress.getByAddress(host, InetAddress.getByName(ips[i]).getAddress());
            }
            return out;
        };
    }

    static InvalidEventException refused(ThrowingCheck check, DeadLetterReason reason) {
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class, check::run);
        assertThat(e).as("expected a refusal with " + reason).isNotNull();
        assertThat(e.reason()).as(e.detail()).isEqualTo(reason);
        assertThat(e.detail()).doesNotContain(SECRET);
        return e;
    }

    interface ThrowingCheck {
        void run() throws Exception;
    }

    // ------------------------------------------------------------------------------------------- file

    @Test
    void filesInsideARootAreAllowedAndResolvedToTheirRealPath() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Path sub = Files.createDirectories(root.resolve("a b"));
        Path image = Files.write(sub.resolve(SECRET + ".png"), new byte[] {1});
        ImageSourcePolicy policy = ImageSourcePolicy.of(List.of(root), List.of(), false);

        assertThat(policy.checkFile(image.toUri())).isEqualTo(image.toRealPath());
        assertThat(policy.checkFile(URI.create("file://localhost" + image.toUri().getRawPath())))
                .isEqualTo(image.toRealPath());
        // percent-encoding of ordinary characters is fine
        assertThat(policy.checkFile(URI.create(image.toUri().toString().replace("PAT", "%50AT"))))
                .isEqualTo(image.toRealPath());
        // missing inside a root: unreachable; outside: refused without looking
        refused(() -> policy.checkFile(root.resolve("none.png").toUri()), DeadLetterReason.IMAGE_UNREACHABLE);
        refused(() -> policy.checkFile(tmp.resolve("elsewhere/" + SECRET + ".png").toUri()),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void nothingIsAllowedByDefault() throws Exception {
        Path image = Files.write(tmp.resolve("x.png"), new byte[] {1});
        refused(() -> ImageSourcePolicy.NONE.checkFile(image.toUri()), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        refused(() -> ImageSourcePolicy.NONE.checkFile(URI.create("file:///etc/passwd")),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        refused(() -> ImageSourcePolicy.NONE.checkUrl(URI.create("http://127.0.0.1:9404/metrics")),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        refused(() -> ImageSourcePolicy.NONE.checkUrl(URI.create("https://pacs.example/wado/x")),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void dotSegmentsAndTheirEncodingsAreRefused() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.write(tmp.resolve(SECRET + ".png"), new byte[] {1});
        ImageSourcePolicy policy = ImageSourcePolicy.of(List.of(root), List.of(), false);
        String r = root.toUri().getRawPath(); // ends with '/'
        for (String uri : List.of("file://" + r + "../" + SECRET + ".png",
                "file://" + r + "%2e%2e/" + SECRET + ".png",
                "file://" + r + "%2E%2E%2F" + SECRET + ".png",
                "file://" + r + "./../" + SECRET + ".png",
                "file://" + r + "sub/%2e%2e/%2e%2e/" + SECRET + ".png")) {
            InvalidEventException e = refused(() -> policy.checkFile(URI.create(uri)),
                    DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
            assertThat(e.detail()).doesNotContain(root.toString());
        }
        // a sibling whose name starts with the root's name is not inside it
        Path sibling = Files.createDirectories(tmp.resolve("root-evil"));
        Path evil = Files.write(sibling.resolve("x.png"), new byte[] {1});
        refused(() -> policy.checkFile(evil.toUri()), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void aSymlinkInsideARootThatPointsOutsideIsRefused() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Path outside = Files.write(tmp.resolve(SECRET + ".png"), new byte[] {1});
        Path outsideDir = Files.createDirectories(tmp.resolve("outside"));
        Files.write(outsideDir.resolve("y.png"), new byte[] {1});
        Files.createSymbolicLink(root.resolve("link.png"), outside);
        Files.createSymbolicLink(root.resolve("dir"), outsideDir);
        Files.createSymbolicLink(root.resolve("passwd"), Path.of("/etc/passwd"));
        ImageSourcePolicy policy = ImageSourcePolicy.of(List.of(root), List.of(), false);

        for (Path p : List.of(root.resolve("link.png"), root.resolve("dir/y.png"), root.resolve("passwd"))) {
            assertThat(refused(() -> policy.checkFile(p.toUri()), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED)
                    .detail()).contains("symbolic link").doesNotContain(tmp.toString(), "passwd");
        }
        // a link that stays inside the root is fine; a root that is itself a link works under both names
        Path inside = Files.write(root.resolve("real.png"), new byte[] {1});
        Files.createSymbolicLink(root.resolve("alias.png"), inside);
        assertThat(policy.checkFile(root.resolve("alias.png").toUri())).isEqualTo(inside.toRealPath());
        Path linkedRoot = Files.createSymbolicLink(tmp.resolve("linked-root"), root);
        ImageSourcePolicy viaLink = ImageSourcePolicy.of(List.of(linkedRoot), List.of(), false);
        assertThat(viaLink.checkFile(linkedRoot.resolve("real.png").toUri())).isEqualTo(inside.toRealPath());
        assertThat(viaLink.checkFile(inside.toUri())).isEqualTo(inside.toRealPath());
    }

    @Test
    void fileUrisWithAHostAreRefused() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.write(root.resolve("x.png"), new byte[] {1});
        ImageSourcePolicy policy = ImageSourcePolicy.of(List.of(root), List.of(), false);
        for (String host : List.of("evil.example", "127.0.0.1", "localhost:80", "user@localhost")) {
            String uri = "file://" + host + root.toUri().getRawPath() + "x.png";
            assertThat(refused(() -> policy.checkFile(URI.create(uri)), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED)
                    .detail()).doesNotContain(host);
        }
        refused(() -> policy.checkFile(URI.create("file:x.png")), DeadLetterReason.INVALID_FIELD);
        refused(() -> policy.checkFile(URI.create("file://" + root.toUri().getRawPath() + "x%00.png")),
                DeadLetterReason.INVALID_FIELD);
    }

    // ------------------------------------------------------------------------------------------- http

    static ImageSourcePolicy pacs(boolean allowPrivate, Map<String, String[]> dns) {
        return ImageSourcePolicy.of(List.of(), List.of("https://pacs.example/wado/", "http://pacs.example:8080/img"),
                allowPrivate).withResolver(fakeDns(dns));
    }

    static final Map<String, String[]> PUBLIC_PACS = Map.of("pacs.example", new String[] {"93.184.216.34"});

    @Test
    void urlsUnderAnAllowedPrefixAreAllowedWithTheCheckedAddresses() throws Exception {
        ImageSourcePolicy policy = pacs(false, PUBLIC_PACS);
        ImageSourcePolicy.HttpTarget t = policy.checkUrl(URI.create("https://pacs.example/wado/study?id=" + SECRET));
        assertThat(t.port()).isEqualTo(443);
        assertThat(t.addresses()).extracting(InetAddress::getHostAddress).containsExactly("93.184.216.34");
        policy.checkUrl(URI.create("https://PACS.example./wado/x"));
        policy.checkUrl(URI.create("https://pacs.example:443/wado/x"));
        policy.checkUrl(URI.create("http://pacs.example:8080/img"));
        policy.checkUrl(URI.create("http://pacs.example:8080/img/a.png"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "https://pacs.example.evil.com/wado/x",     // prefix confusion on the host
            "https://pacs.example@evil.com/wado/x",     // user info before the real host
            "https://evil.com/https://pacs.example/wado/x",
            "https://pacs.example/wadox/x",            // path prefix without the segment boundary
            "https://pacs.example/wado",               // the prefix's folder itself
            "https://pacs.example/other/x",
            "http://pacs.example/wado/x",              // scheme differs
            "https://pacs.example:8443/wado/x",        // port differs
            "http://pacs.example:8080/imgs/x",         // "img" without a slash: still segment-wise
            "https://pacs.example/wado/../admin",
            "https://pacs.example/wado/%2e%2e/admin",
            "https://pacs.example/wado/%2E%2e/admin",
            "https://pacs.example/wado/..%2fadmin",
            "https://pacs.example/wado/x%5c..%5cadmin",
            "https://user:pw@pacs.example/wado/x",
            "http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://0177.0.0.1/", "http://[::1]/",
            "http://[::ffff:127.0.0.1]/", "http://localhost/", "http://127.0.0.1:9404/metrics",
            "ftp://pacs.example/wado/x",
    })
    void everythingElseIsRefusedWithoutNamingTheHostOrPath(String uri) {
        ImageSourcePolicy policy = pacs(true, PUBLIC_PACS);
        InvalidEventException e = refused(() -> policy.checkUrl(URI.create(uri)),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        assertThat(e.detail()).doesNotContain("pacs", "evil", "admin", "127", "2130706433", "0x7f", "localhost");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1",
            "::1", "fc00::1", "fd12:3456::1", "fec0::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1",
            "2002:c0a8:101::1", "::10.0.0.1",
    })
    void privateAndLoopbackAddressesNeedTheFlag(String ip) throws Exception {
        Map<String, String[]> dns = Map.of("pacs.example", new String[] {ip});
        InvalidEventException e = refused(() -> pacs(false, dns).checkUrl(URI.create("https://pacs.example/wado/x")),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        assertThat(e.detail()).contains("address").doesNotContain(ip, "pacs");
        assertThat(pacs(true, dns).checkUrl(URI.create("https://pacs.example/wado/x")).addresses()).hasSize(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "169.254.169.254", "169.254.0.1", "fe80::1", "febf::1", "0.0.0.0", "0.1.2.3", "::", "224.0.0.1",
            "ff02::1", "255.255.255.255", "240.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    })
    void linkLocalUnspecifiedMulticastAndReservedAreAlwaysRefused(String ip) {
        Map<String, String[]> dns = Map.of("pacs.example", new String[] {ip});
        refused(() -> pacs(true, dns).checkUrl(URI.create("https://pacs.example/wado/x")),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void oneInternalAddressAmongPublicOnesIsEnoughToRefuse() {
        Map<String, String[]> dns = Map.of("pacs.example", new String[] {"93.184.216.34", "127.0.0.1"});
        refused(() -> pacs(false, dns).checkUrl(URI.create("https://pacs.example/wado/x")),
                DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void numericSpellingsOfLoopbackAreJudgedByTheAddressTheyResolveTo() throws Exception {
        // Even when listed as prefixes, decimal / short IPv4 spellings resolve to loopback and are refused.
        for (String host : List.of("2130706433", "127.1")) {
            String prefix = "http://" + host + "/";
            ImageSourcePolicy listed;
            try {
                listed = ImageSourcePolicy.of(List.of(), List.of(prefix), false);
            } catch (IllegalArgumentException e) {
                continue; // not even a valid prefix
            }
            refused(() -> listed.checkUrl(URI.create(prefix + "x")), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        }
        // hex / octal spellings: whatever the resolver makes of them is checked
        ImageSourcePolicy glibc = ImageSourcePolicy.of(List.of(), List.of("http://0x7f000001/", "http://0177.0.0.1/"),
                false).withResolver(fakeDns(Map.of("0x7f000001", new String[] {"127.0.0.1"},
                        "0177.0.0.1", new String[] {"127.0.0.1"})));
        refused(() -> glibc.checkUrl(URI.create("http://0x7f000001/x")), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        refused(() -> glibc.checkUrl(URI.create("http://0177.0.0.1/x")), DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void anAllowedHostThatDoesNotResolveIsUnreachable() {
        refused(() -> pacs(false, Map.of()).checkUrl(URI.create("https://pacs.example/wado/x")),
                DeadLetterReason.IMAGE_UNREACHABLE);
    }

    @Test
    void badPrefixesAreConfigurationErrors() {
        for (String bad : List.of("pacs.example/wado", "ftp://pacs.example/", "https://u@pacs.example/",
                "https://pacs.example/wado?x=1", "https://pacs.example/a/../b", "file:///data", "https:///x")) {
            assertThatThrownBy(() -> ImageSourcePolicy.of(List.of(), List.of(bad), false))
                    .as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void policyIsSerializable() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Path image = Files.write(root.resolve("x.png"), new byte[] {1});
        ImageSourcePolicy policy = ImageSourcePolicy.of(List.of(root), List.of("https://pacs.example/wado/"), false);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(policy);
        }
        ImageSourcePolicy copy;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            copy = (ImageSourcePolicy) in.readObject();
        }
        assertThat(copy.checkFile(image.toUri())).isEqualTo(image.toRealPath());
        assertThat(copy.summary()).isEqualTo(policy.summary()).doesNotContain(root.toString());
    }
}
