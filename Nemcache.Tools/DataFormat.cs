using Nemcache.Storage.Bitcask;
using Nemcache.Storage.Persistence.Stream;

namespace Nemcache.Tools;

/// <summary>The two persistence plugins' on-disk formats.</summary>
internal enum DataFormat
{
    Stream,
    Bitcask,
}

/// <summary>Which formats a data directory holds, by the files the plugins write.</summary>
internal static class DataFormats
{
    public static string Name(DataFormat format) => format == DataFormat.Stream ? "stream" : "bitcask";

    public static bool TryParse(string name, out DataFormat format)
    {
        format = name == "bitcask" ? DataFormat.Bitcask : DataFormat.Stream;
        return name is "stream" or "bitcask";
    }

    public static List<DataFormat> Present(string directory)
    {
        var present = new List<DataFormat>();
        if (File.Exists(Path.Combine(directory, StreamLogContents.LogFileName)))
        {
            present.Add(DataFormat.Stream);
        }
        if (BitcaskDirectoryReader.HoldsData(directory))
        {
            present.Add(DataFormat.Bitcask);
        }
        return present;
    }
}
