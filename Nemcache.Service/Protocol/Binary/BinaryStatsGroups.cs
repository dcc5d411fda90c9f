using Nemcache.Service.Protocol.Stats;

namespace Nemcache.Service.Protocol.Binary;

/// <summary>The binary protocol's stat groups beyond the general and settings ones, as memcached's: the text protocol's
/// item, slab and size listings (not conns, which memcached answers only in text).</summary>
internal static class BinaryStatsGroups
{
    public static List<KeyValuePair<string, string>>? Find(ServerContext context, ReadOnlySpan<byte> group)
    {
        if (group.SequenceEqual("items"u8)) return PseudoSlabClass.Items(context.Cache.GetStatistics());
        if (group.SequenceEqual("slabs"u8)) return PseudoSlabClass.Slabs(context.Cache.GetStatistics());
        if (group.SequenceEqual("sizes"u8)) return PseudoSlabClass.Sizes();
        return null;
    }
}
