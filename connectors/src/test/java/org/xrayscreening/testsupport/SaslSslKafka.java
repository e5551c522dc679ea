package org.xrayscreening.testsupport;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.xrayscreening.connectors.kafka.EmbeddedKafka;

/**
 * An {@link EmbeddedKafka} with a second listener, {@code SASL_SSL} with SCRAM-SHA-512 over TLS, as a hospital's
 * Kafka cluster is run. The TLS key pair is made with the JDK's keytool (as {@code ImageLoaderTlsTest} does); the
 * SCRAM credentials are created on the KRaft controller with {@code Admin.alterUserScramCredentials} through the
 * broker's PLAINTEXT listener, which only the test uses (it is the setup path, as {@code kafka-storage format
 * --add-scram} is on a real cluster). Clients of the code under test get a properties file, exactly what
 * {@code --kafka-properties} takes.
 */
public final class SaslSslKafka implements AutoCloseable {

    public static final String LISTENER = "SASL_SSL";
    public static final String USER = "xray-screening";
    private static final String STORE_PASSWORD = "keystore-secret";

    private final Path dir;
    private final String password;
    private EmbeddedKafka kafka;

    /** @param dir where the keystore, the trust store and the client properties files are written */
    public SaslSslKafka(Path dir, String password) {
        this.dir = dir;
        this.password = password;
    }

    public SaslSslKafka start() throws Exception {
        Files.createDirectories(dir);
        Path keystore = dir.resolve("broker.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "broker", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", STORE_PASSWORD).inheritIO().start();
        if (!keytool.waitFor(60, TimeUnit.SECONDS) || keytool.exitValue() != 0) {
            throw new IllegalStateException("keytool failed");
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore.toFile())) {
            ks.load(in, STORE_PASSWORD.toCharArray());
        }
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("broker", ks.getCertificate("broker"));
        try (OutputStream out = new FileOutputStream(truststore().toFile())) {
            trust.store(out, STORE_PASSWORD.toCharArray());
        }

        String prefix = "listener.name." + LISTENER.toLowerCase() + ".";
        Map<String, String> broker = new LinkedHashMap<>();
        broker.put("listeners", "EXTERNAL://localhost:0,CONTROLLER://localhost:0," + LISTENER + "://localhost:0");
        broker.put("listener.security.protocol.map", "EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT," + LISTENER + ":SASL_SSL");
        broker.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
        broker.put(prefix + "scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;");
        broker.put(prefix + "ssl.keystore.type", "PKCS12");
        broker.put(prefix + "ssl.keystore.location", keystore.toString());
        broker.put(prefix + "ssl.keystore.password", STORE_PASSWORD);
        broker.put(prefix + "ssl.key.password", STORE_PASSWORD);
        kafka = new EmbeddedKafka(broker).start();
        try (Admin admin = Admin.create(kafka.clientProperties())) {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(USER,
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password))).all()
                    .get(60, TimeUnit.SECONDS);
        }
        return this;
    }

    /** The plain broker underneath: topic creation and other setup through the PLAINTEXT listener. */
    public EmbeddedKafka embedded() {
        return kafka;
    }

    /** host:port of the SASL_SSL listener. */
    public String bootstrapServers() {
        return kafka.bootstrapServers(LISTENER);
    }

    public Path truststore() {
        return dir.resolve("truststore.p12");
    }

    /** The client settings for {@code user}/{@code password}: what a hospital hands the job as a file. */
    public Properties clientSettings(String user, String password) {
        Properties p = new Properties();
        p.setProperty("security.protocol", "SASL_SSL");
        p.setProperty("sasl.mechanism", "SCRAM-SHA-512");
        p.setProperty("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + user + "\" password=\"" + password + "\";");
        p.setProperty("ssl.truststore.type", "PKCS12");
        p.setProperty("ssl.truststore.location", truststore().toString());
        p.setProperty("ssl.truststore.password", STORE_PASSWORD);
        return p;
    }

    /** {@link #clientSettings} written to {@code name} in the directory, for {@code --kafka-properties}. */
    public Path clientPropertiesFile(String name, String user, String password) throws Exception {
        Path file = dir.resolve(name);
        try (Writer w = Files.newBufferedWriter(file)) {
            clientSettings(user, password).store(w, "Kafka client settings for " + user);
        }
        return file;
    }

    /** The good credentials' client properties with bootstrap.servers set, for the test's own producers/readers. */
    public Properties clientProperties() {
        Properties p = clientSettings(USER, password);
        p.setProperty("bootstrap.servers", bootstrapServers());
        return p;
    }

    @Override
    public void close() throws Exception {
        if (kafka != null) {
            kafka.close();
        }
    }
}
