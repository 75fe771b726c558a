from peaceland.cli import main

main()
