fn main() {
    println!("fcgate");
}
