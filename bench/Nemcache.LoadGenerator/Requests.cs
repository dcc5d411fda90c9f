using System.Text;

namespace Nemcache.LoadGenerator;

/// <summary>
/// The text-protocol requests a run sends, built once: a get and a set per key, so that sending allocates nothing.
/// Keys are <c>key:</c> and a zero-padded number, so they all have one length.
/// </summary>
internal sealed class Requests
{
    private readonly byte[][] _gets;
    private readonly byte[][] _sets;

    public Requests(int keys, int valueSize)
    {
        var value = new string('v', valueSize);
        _gets = new byte[keys][];
        _sets = new byte[keys][];
        for (var i = 0; i < keys; i++)
        {
            var key = $"key:{i:D9}";
            _gets[i] = Encoding.ASCII.GetBytes($"get {key}\r\n");
            _sets[i] = Encoding.ASCII.GetBytes($"set {key} 0 0 {valueSize}\r\n{value}\r\n");
        }
    }

    public int Keys => _gets.Length;

    public byte[] Get(int key) => _gets[key];

    public byte[] Set(int key) => _sets[key];
}
