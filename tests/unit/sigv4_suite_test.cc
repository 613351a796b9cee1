// Placeholder: filled in by the area owner.
int main() { return 77; }
