public enum _PlaceholderWeb {}
