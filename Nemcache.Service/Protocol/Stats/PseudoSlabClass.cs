using System.Globalization;
using Nemcache.Storage.Cache;

namespace Nemcache.Service.Protocol.Stats;

/// <summary>
/// `stats items` and `stats slabs` for a cache that has no slab allocator: every item is in one pseudo class, number 1,
/// whose chunks are items (so none is ever free) and whose pages are 1 MiB of what items count against -m. Tools that
/// walk memcached's classes (memcached-tool, memcached_exporter) then see the whole cache as one class.
/// </summary>
internal static class PseudoSlabClass
{
    /// <summary>The class every item is in: memcached's smallest class id.</summary>
    public const int Id = 1;

    /// <summary>memcached's highest class id plus one (MAX_NUMBER_OF_SLAB_CLASSES): a larger id is refused.</summary>
    public const int ClassIdLimit = 64;

    /// <summary>memcached's default slab page size.</summary>
    private const long PageBytes = 1024 * 1024;

    /// <summary>memcached lists a class only once it holds items; so does this.</summary>
    public static List<KeyValuePair<string, string>> Items(CacheStatistics cache)
    {
        var stats = new List<KeyValuePair<string, string>>();
        if (cache.CurrentItems == 0)
        {
            return stats;
        }
        void Add(string name, long value) => stats.Add(KeyValuePair.Create($"items:{Id}:{name}", value.ToString(CultureInfo.InvariantCulture)));
        Add("number", cache.CurrentItems);
        Add("age", cache.OldestItemIdleSeconds);
        Add("mem_requested", cache.Bytes);
        Add("evicted", cache.Evictions);
        Add("evicted_nonzero", cache.EvictedNonzero);
        Add("evicted_time", cache.LastEvictedIdleSeconds);
        Add("outofmemory", 0);
        Add("tailrepairs", 0);
        Add("reclaimed", cache.Reclaimed);
        Add("expired_unfetched", cache.ExpiredUnfetched);
        Add("evicted_unfetched", cache.EvictedUnfetched);
        Add("crawler_reclaimed", cache.CrawlerReclaimed);
        Add("crawler_items_checked", cache.CrawlerItemsChecked);
        Add("lrutail_reflocked", 0);
        return stats;
    }

    public static List<KeyValuePair<string, string>> Slabs(CacheStatistics cache)
    {
        var stats = new List<KeyValuePair<string, string>>();
        void Add(string name, long value) => stats.Add(KeyValuePair.Create(name, value.ToString(CultureInfo.InvariantCulture)));
        var pages = (cache.Bytes + PageBytes - 1) / PageBytes;
        if (cache.CurrentItems > 0)
        {
            var prefix = $"{Id}:";
            Add(prefix + "chunk_size", (cache.Bytes + cache.CurrentItems - 1) / cache.CurrentItems);
            Add(prefix + "chunks_per_page", (cache.CurrentItems + pages - 1) / pages);
            Add(prefix + "total_pages", pages);
            Add(prefix + "total_chunks", cache.CurrentItems);
            Add(prefix + "used_chunks", cache.CurrentItems);
            Add(prefix + "free_chunks", 0);
            Add(prefix + "free_chunks_end", 0);
            Add(prefix + "get_hits", cache.GetHits);
            Add(prefix + "cmd_set", cache.SetCommands);
            Add(prefix + "delete_hits", cache.DeleteHits);
            Add(prefix + "incr_hits", cache.IncrHits);
            Add(prefix + "decr_hits", cache.DecrHits);
            Add(prefix + "cas_hits", cache.CasHits);
            Add(prefix + "cas_badval", cache.CasBadValue);
            Add(prefix + "touch_hits", cache.TouchHits);
        }
        Add("active_slabs", cache.CurrentItems > 0 ? 1 : 0);
        Add("total_malloced", cache.Bytes);
        return stats;
    }

    /// <summary>memcached's answer while its size histogram is off, which is its default.</summary>
    public static List<KeyValuePair<string, string>> Sizes() => [KeyValuePair.Create("sizes_status", "disabled")];
}
