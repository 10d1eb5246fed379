// A JeroMQ 0.3.6 peer for purezmq's interop tests (tests/interop/test_interop_jeromq.py).
//
// Usage: java -cp jeromq.jar:DIR JeroPeer ROLE ENDPOINT COUNT
//   ROLE      push | pull | req | rep | dealer | router | pub | sub | pair
//   ENDPOINT  "bind" (an OS-chosen port on 127.0.0.1, announced as "PORT <n>")
//             or tcp://127.0.0.1:PORT to connect to
//   COUNT     messages to send / receive
//
// Message contents are fixed so the Python side can check them; every message this peer
// receives is printed as "MSG " + its frames in hex joined by "|".  On success it prints
// "DONE" and exits 0; on a timeout (10 s per recv/send) or a wrong message it says why on
// stderr and exits 1.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Field;
import java.net.ServerSocket;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.zeromq.ZMQ;

public class JeroPeer {
    static final int TIMEOUT_MS = 10000;
    static final long LINGER_MS = 2000;
    static final long PUB_INTERVAL_MS = 5;
    static final long PUB_MAX_MS = 20000;

    static volatile boolean stopPublishing = false;

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    static String hex(byte[] data) {
        StringBuilder sb = new StringBuilder();
        for (byte x : data) {
            sb.append(String.format("%02x", x & 0xff));
        }
        return sb.toString();
    }

    static String hex(List<byte[]> frames) {
        List<String> parts = new ArrayList<>();
        for (byte[] f : frames) {
            parts.add(hex(f));
        }
        return String.join("|", parts);
    }

    static void fail(String why) {
        System.out.flush();
        System.err.println("JeroPeer: " + why);
        System.err.flush();
        System.exit(1);
    }

    static void send(ZMQ.Socket s, byte[]... frames) {
        for (int i = 0; i < frames.length; i++) {
            int flags = i < frames.length - 1 ? ZMQ.SNDMORE : 0;
            if (!s.send(frames[i], flags)) {
                fail("send timed out (frame " + i + " of [" + hex(Arrays.asList(frames)) + "])");
            }
        }
    }

    static List<byte[]> recv(ZMQ.Socket s, String what) {
        List<byte[]> frames = new ArrayList<>();
        byte[] frame = s.recv(0);
        if (frame == null) {
            fail("recv timed out after " + TIMEOUT_MS + " ms waiting for " + what);
        }
        frames.add(frame);
        while (s.hasReceiveMore()) {
            frame = s.recv(0);
            if (frame == null) {
                fail("recv timed out in the middle of " + what);
            }
            frames.add(frame);
        }
        return frames;
    }

    /** Receives a message and prints it as a MSG line. */
    static List<byte[]> recvPrint(ZMQ.Socket s, String what) {
        List<byte[]> frames = recv(s, what);
        System.out.println("MSG " + hex(frames));
        System.out.flush();
        return frames;
    }

    static void expect(List<byte[]> got, byte[]... want) {
        boolean same = got.size() == want.length;
        for (int i = 0; same && i < want.length; i++) {
            same = Arrays.equals(got.get(i), want[i]);
        }
        if (!same) {
            fail("expected [" + hex(Arrays.asList(want)) + "], got [" + hex(got) + "]");
        }
    }

    static byte[][] plus(List<byte[]> frames, byte[] last) {
        List<byte[]> out = new ArrayList<>(frames);
        out.add(last);
        return out.toArray(new byte[0][]);
    }

    /**
     * Binds to an OS-chosen port and returns it.  JeroMQ 0.3.6's "tcp://host:*" scans ports
     * upwards from 49152 instead, and ZMQ_LAST_ENDPOINT reports ":0" for port 0, so the port
     * is read from the listener's channel.
     */
    static int bindEphemeral(ZMQ.Socket s) throws Exception {
        s.bind("tcp://127.0.0.1:0");
        Field endpoints = zmq.SocketBase.class.getDeclaredField("endpoints");
        endpoints.setAccessible(true);
        for (Object listener : ((Map<?, ?>) endpoints.get(s.base())).values()) {
            if (listener instanceof zmq.TcpListener) {
                Field handle = zmq.TcpListener.class.getDeclaredField("handle");
                handle.setAccessible(true);
                ServerSocket server = ((ServerSocketChannel) handle.get(listener)).socket();
                return server.getLocalPort();
            }
        }
        throw new IllegalStateException("no TCP listener after bind");
    }

    static int socketType(String role) {
        switch (role) {
            case "push": return ZMQ.PUSH;
            case "pull": return ZMQ.PULL;
            case "req": return ZMQ.REQ;
            case "rep": return ZMQ.REP;
            case "dealer": return ZMQ.DEALER;
            case "router": return ZMQ.ROUTER;
            case "pub": return ZMQ.PUB;
            case "sub": return ZMQ.SUB;
            case "pair": return ZMQ.PAIR;
            default:
                fail("unknown role " + role);
                return -1;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: JeroPeer ROLE bind|tcp://127.0.0.1:PORT COUNT");
            System.exit(2);
        }
        String role = args[0];
        String endpoint = args[1];
        int count = Integer.parseInt(args[2]);

        ZMQ.Context ctx = ZMQ.context(1);
        ZMQ.Socket s = ctx.socket(socketType(role));
        s.setLinger(LINGER_MS);
        s.setReceiveTimeOut(TIMEOUT_MS);
        s.setSendTimeOut(TIMEOUT_MS);
        if (role.equals("dealer")) {
            s.setIdentity(b("J1"));
        }
        if (role.equals("sub")) {
            s.subscribe(b("A"));
        }
        if (endpoint.equals("bind")) {
            System.out.println("PORT " + bindEphemeral(s));
            System.out.flush();
        } else {
            s.connect(endpoint);
        }

        run(role, s, count);

        s.close();
        ctx.term();
        System.out.println("DONE");
        System.out.flush();
        System.exit(0);
    }

    static void run(String role, ZMQ.Socket s, int count) throws Exception {
        switch (role) {
            case "push":
                for (int i = 0; i < count; i++) {
                    if (i % 2 == 0) {
                        send(s, b("m" + i));
                    } else {
                        send(s, b("m" + i), b("x" + i));
                    }
                }
                break;
            case "pull":
                for (int i = 0; i < count; i++) {
                    recvPrint(s, "message " + i);
                }
                break;
            case "req":
                for (int i = 0; i < count; i++) {
                    send(s, b("q" + i));
                    expect(recvPrint(s, "reply " + i), b("q" + i), b("ok"));
                }
                break;
            case "rep":
                for (int i = 0; i < count; i++) {
                    send(s, plus(recvPrint(s, "request " + i), b("ok")));
                }
                break;
            case "dealer":
                for (int i = 0; i < count; i++) {
                    send(s, b("d" + i));
                }
                for (int i = 0; i < count; i++) {
                    expect(recvPrint(s, "reply " + i), b("d" + i), b("ok"));
                }
                break;
            case "router":
                for (int i = 0; i < count; i++) {
                    List<byte[]> msg = recv(s, "message " + i);
                    if (i == 0) {
                        System.out.println("ID " + hex(msg.get(0)));
                    }
                    System.out.println("MSG " + hex(msg.subList(1, msg.size())));
                    System.out.flush();
                    send(s, plus(msg, b("ok")));
                }
                break;
            case "pub":
                publish(s, count);
                break;
            case "sub":
                for (int i = 0; i < count; i++) {
                    List<byte[]> msg = recvPrint(s, "publication " + i);
                    if (msg.get(0).length == 0 || msg.get(0)[0] != 'A') {
                        fail("subscribed to A but got [" + hex(msg) + "]");
                    }
                }
                break;
            case "pair":
                for (int i = 0; i < count; i++) {
                    send(s, b("p" + i));
                    expect(recvPrint(s, "echo " + i), b("p" + i));
                }
                break;
            default:
                fail("unknown role " + role);
        }
    }

    /**
     * Publishes A-i and B-i alternately every 5 ms until COUNT of each are sent, 20 s pass,
     * or stdin says STOP (or closes): a subscriber joins at some unknown point, so it
     * needs a stream rather than a fixed burst.
     */
    static void publish(ZMQ.Socket s, int count) throws Exception {
        Thread watcher = new Thread(() -> {
            try {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
                String line;
                while ((line = in.readLine()) != null && !line.trim().equals("STOP")) {
                    // anything else is ignored
                }
            } catch (Exception e) {
                // stdin unreadable: treat it as closed
            }
            stopPublishing = true;
        });
        watcher.setDaemon(true);
        watcher.start();
        long deadline = System.currentTimeMillis() + PUB_MAX_MS;
        int sent = 0;
        while (sent < count && !stopPublishing && System.currentTimeMillis() < deadline) {
            send(s, b("A-" + sent));
            Thread.sleep(PUB_INTERVAL_MS);
            send(s, b("B-" + sent));
            Thread.sleep(PUB_INTERVAL_MS);
            sent++;
        }
        System.out.println("SENT " + sent);
    }
}
